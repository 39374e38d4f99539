/* merger.c -- see merger.h.
 *
 * The tree: leaves are the inputs 0..k-1, internal node n (1 <= n < k)
 * has children 2n and 2n+1 where a child index c >= k stands for leaf
 * c - k.  tree[n] holds the loser of the match at n, tree[0] the overall
 * winner.  An input that ended loses every match. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "merger.h"

/* Whether input a beats input b: a smaller record, or equal and earlier. */
static int merger_beats(const merger *m, int a, int b) {
    if (!m->live[b])
        return 1;
    if (!m->live[a])
        return 0;
    const kv_record *x = &m->cur[a], *y = &m->cur[b];
    int c = m->cmp(x->key, x->key_len, y->key, y->key_len);
    return c < 0 || (c == 0 && a < b);
}

static int merger_advance(merger *m, int i) {
    int rc = m->in[i]->next(m->in[i], &m->cur[i]);
    m->live[i] = rc == 1;
    if (rc < 0)
        m->failed = rc;
    return rc < 0 ? rc : EMBER_OK;
}

/* Plays the matches of the subtree at node n; returns its winner. */
static int merger_build(merger *m, int n) {
    if (n >= m->k)
        return n - m->k;
    int a = merger_build(m, 2 * n), b = merger_build(m, 2 * n + 1);
    if (merger_beats(m, a, b)) {
        m->tree[n] = b;
        return a;
    }
    m->tree[n] = a;
    return b;
}

/* Input w changed: replays its path to the root. */
static void merger_replay(merger *m, int w) {
    for (int n = (w + m->k) / 2; n >= 1; n /= 2) {
        if (merger_beats(m, m->tree[n], w)) {
            int t = m->tree[n];
            m->tree[n] = w;
            w = t;
        }
    }
    m->tree[0] = w;
}

static int merger_next(kv_stream *s, kv_record *out) {
    merger *m = (merger *)s;
    if (m->failed)
        return m->failed;
    if (m->pending) {
        m->pending = 0;
        int w = m->tree[0];
        if (merger_advance(m, w) != EMBER_OK)
            return m->failed;
        merger_replay(m, w);
    }
    int w = m->tree[0];
    if (!m->live[w])
        return 0;
    *out = m->cur[w];
    m->pending = 1;
    return 1;
}

int merger_init(merger *m, kv_stream **inputs, int k, ember_compare_fn cmp) {
    memset(m, 0, sizeof(*m));
    m->base.next = merger_next;
    m->cmp = cmp != NULL ? cmp : kv_compare_bytes;
    m->k = k > 0 ? k : 1;
    m->in = inputs;
    m->cur = calloc((size_t)m->k, sizeof(*m->cur));
    m->live = calloc((size_t)m->k, 1);
    m->tree = calloc((size_t)m->k, sizeof(int));
    if (m->cur == NULL || m->live == NULL || m->tree == NULL) {
        merger_free(m);
        return EMBER_ENOMEM;
    }
    for (int i = 0; i < k; i++)
        if (merger_advance(m, i) != EMBER_OK) {
            int rc = m->failed;
            merger_free(m);
            return rc;
        }
    m->tree[0] = m->k == 1 ? 0 : merger_build(m, 1);
    return EMBER_OK;
}

void merger_free(merger *m) {
    free(m->cur);
    free(m->live);
    free(m->tree);
    m->cur = NULL;
    m->live = NULL;
    m->tree = NULL;
}

/* merger.h -- a k-way merge of sorted record streams, itself a stream.
 *
 * A loser tree (Knuth's tree of losers) over the inputs' current records:
 * each record out costs one comparison per level (log2 k), against a
 * heap's two.  Inputs equal under cmp come out in input order (input i
 * before input j when i < j), so a merge of spills in spill order keeps
 * their records' relative order.  The record returned stays valid until
 * the next call (the input it came from advances only then). */
#ifndef EMBER_MR_MERGER_H
#define EMBER_MR_MERGER_H

#include "kv.h"

typedef struct {
    kv_stream base;
    kv_stream **in;
    kv_record *cur; /* each input's current record */
    uint8_t *live;  /* input i has a current record */
    int *tree;      /* tree[0]: winner; tree[1, k): losers */
    int k;
    int pending; /* the winner was returned: advance it first */
    int failed;  /* an input's error, returned from then on */
    ember_compare_fn cmp;
} merger;

/* Reads each input's first record (an input's error is returned, with
 * nothing left to free). */
int merger_init(merger *m, kv_stream **inputs, int k, ember_compare_fn cmp);
void merger_free(merger *m);

#endif

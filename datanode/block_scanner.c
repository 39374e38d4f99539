/* block_scanner.c -- the datanode's background block scanner (HDFS's
 * VolumeScanner, simplified).
 *
 * Re-reads every finalized replica now and then, verifying its chunk
 * checksums, to find corruption that no client read has hit yet.  A
 * replica that fails is logged (WARN) and reported to the primary once
 * (RankMessage.bad_replica {block_id, rank}); the primary drops it, tells
 * this node to delete it and copies the block again from a good replica.
 *
 * The scanner owns its own timer (SCANNER_TICK_MS) and a byte credit: each
 * tick adds bytes_per_sec * elapsed, capped at one tick's worth (at least
 * one SCANNER_PIECE), and each step is taken only while the credit covers
 * it -- a piece costs its bytes, never less than one chunk, and opening a
 * replica costs one chunk -- so that the scanner's I/O and CPU stay within
 * the configured rate and a tick never reads more than
 * max(bytes_per_sec / 10, SCANNER_PIECE) bytes.
 * A replica is read SCANNER_PIECE bytes at a time through a block_reader
 * (whose pread verifies every chunk it touches), continuing across ticks.
 *
 * What the scanner knows lives in memory only: one scan_record per replica
 * (sorted by block id) with the time it was last verified whole, and
 * whether it was reported.  A pass takes the store's list of replicas,
 * keeps the records of those still there (same gen stamp), and visits them
 * never-verified first, then oldest-verified first; it ends at the first
 * replica verified within scan_period_ms (all later ones are too), or at
 * the end of the list.  A pass that verified something is followed by
 * another at the next tick (to pick up new replicas); otherwise the next
 * one waits until the earliest replica is due, but never longer than
 * min(scan_period_ms, SCANNER_IDLE_MS), the longest a new replica waits
 * for its first check on an idle scanner.  A reported replica is never read
 * or reported again; a replica deleted meanwhile (ENOENT at open, or
 * dn_scanner_forget() from DeleteBlocks) is skipped and its record dropped
 * at the next list.
 *
 * States (dn_scanner.state):
 *   SCANNER_IDLE     between passes: no list; the next pass starts at
 *                    next_pass_ms
 *   SCANNER_PASS     walking the pass's order at cursor; no reader open
 *   SCANNER_READING  verifying order[cursor] through reader, at offset
 * IDLE -> PASS in scanner_begin_pass(); PASS -> READING in
 * scanner_open_next(); READING -> PASS in scanner_finish_replica() (the
 * replica verified, corrupt, unreadable or deleted); PASS -> IDLE in
 * scanner_end_pass().  Runs on the datanode's loop thread, like the store. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_store.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"

#define SCANNER_TICK_MS 100
#define SCANNER_PIECE (64u * 1024)          /* bytes verified by one read */
#define SCANNER_IDLE_MS 60000               /* longest wait before a new list is taken */
#define SCANNER_RATE_MAX ((int64_t)1 << 40) /* config's cap; keeps the credit math in range */

typedef enum {
    SCANNER_IDLE,    /* between passes: no list */
    SCANNER_PASS,    /* walking order[cursor]; no reader */
    SCANNER_READING, /* reading order[cursor] at offset */
} scanner_state;

typedef struct {
    uint64_t block_id;
    uint64_t gen_stamp;
    int64_t verified_ms; /* monotonic, when last read whole (when verified) */
    uint8_t verified;    /* read whole (or tried and unreadable) at least once */
    uint8_t reported;    /* found corrupt and reported: never read again */
    uint8_t gone;        /* deleted since the list was taken */
} scan_record;

struct dn_scanner {
    datanode *dn;
    int64_t bytes_per_sec;
    int64_t period_ms;
    uint64_t timer_id;
    scanner_state state;
    int64_t credit;       /* bytes the scanner may read now */
    int64_t credit_cap;   /* max(bytes_per_sec / 10, SCANNER_PIECE) */
    int64_t last_tick_ms; /* monotonic */
    int64_t next_pass_ms; /* IDLE: when to take the next list */
    scan_record *records; /* by block id; the last list's replicas */
    size_t nrecords;
    scan_record **order; /* PASS, READING: the pass, due first */
    size_t norder, cursor;
    size_t verified_in_pass;
    block_reader *reader; /* READING only */
    uint64_t offset, length;
    uint8_t buf[SCANNER_PIECE];
};

static void scanner_check(const dn_scanner *s) {
    assert((s->state == SCANNER_READING) == (s->reader != NULL));
    assert(s->state == SCANNER_IDLE || s->cursor <= s->norder);
    assert(s->state != SCANNER_READING || s->cursor < s->norder);
    assert(s->state != SCANNER_IDLE || s->order == NULL);
    assert(s->state != SCANNER_READING || s->offset <= s->length);
    (void)s;
}

static int compare_info_by_id(const void *a, const void *b) {
    uint64_t x = ((const block_info *)a)->block_id, y = ((const block_info *)b)->block_id;
    return x < y ? -1 : x > y;
}

/* Never verified first, then the oldest verification first. */
static int compare_due(const void *a, const void *b) {
    const scan_record *x = *(scan_record *const *)a, *y = *(scan_record *const *)b;
    if (x->verified != y->verified)
        return x->verified ? 1 : -1;
    if (x->verified_ms != y->verified_ms)
        return x->verified_ms < y->verified_ms ? -1 : 1;
    return x->block_id < y->block_id ? -1 : x->block_id > y->block_id;
}

static scan_record *scanner_find(const dn_scanner *s, uint64_t block_id) {
    size_t lo = 0, hi = s->nrecords;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->records[mid].block_id == block_id)
            return &s->records[mid];
        if (s->records[mid].block_id < block_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* When r must be verified again (monotonic ms). */
static int64_t scanner_due_ms(const dn_scanner *s, const scan_record *r) {
    return r->verified ? r->verified_ms + s->period_ms : INT64_MIN;
}

/* PASS -> IDLE.  The next pass starts at once when this one verified
 * something, else when the next replica is due (due_ms; INT64_MAX when
 * none is known), but within min(period, SCANNER_IDLE_MS). */
static void scanner_end_pass(dn_scanner *s, int64_t now, int64_t due_ms) {
    assert(s->state == SCANNER_PASS);
    free(s->order);
    s->order = NULL;
    s->norder = s->cursor = 0;
    int64_t wait = s->period_ms < SCANNER_IDLE_MS ? s->period_ms : SCANNER_IDLE_MS;
    s->next_pass_ms = now + wait;
    if (due_ms < s->next_pass_ms)
        s->next_pass_ms = due_ms;
    if (s->verified_in_pass > 0)
        s->next_pass_ms = now;
    s->state = SCANNER_IDLE;
    scanner_check(s);
}

/* IDLE -> PASS: takes the store's list, carries over the records of the
 * replicas still there, and orders the pass.  On failure (no memory) the
 * scanner stays IDLE and tries again later. */
static int scanner_begin_pass(dn_scanner *s, int64_t now) {
    assert(s->state == SCANNER_IDLE);
    block_info *list = NULL;
    size_t n = 0;
    int rc = block_store_list(s->dn->store, &list, &n);
    scan_record *records = NULL;
    scan_record **order = NULL;
    if (rc == EMBER_OK && n > 0) {
        records = calloc(n, sizeof(*records));
        order = malloc(n * sizeof(*order));
        if (records == NULL || order == NULL)
            rc = EMBER_ENOMEM;
    }
    if (rc != EMBER_OK) {
        LOG_WARN("datanode: block scanner cannot list the replicas: %s", ember_strerror(rc));
        free(list);
        free(records);
        free(order);
        s->next_pass_ms = now + SCANNER_IDLE_MS;
        return rc;
    }
    if (n > 1)
        qsort(list, n, sizeof(*list), compare_info_by_id);
    size_t old = 0, norder = 0;
    for (size_t i = 0; i < n; i++) {
        scan_record *r = &records[i];
        while (old < s->nrecords && s->records[old].block_id < list[i].block_id)
            old++;
        const scan_record *prev = old < s->nrecords ? &s->records[old] : NULL;
        if (prev != NULL && prev->block_id == list[i].block_id && !prev->gone &&
            prev->gen_stamp == list[i].gen_stamp)
            *r = *prev;
        else
            *r = (scan_record){.block_id = list[i].block_id, .gen_stamp = list[i].gen_stamp};
        if (!r->reported)
            order[norder++] = r;
    }
    free(list);
    free(s->records);
    s->records = records;
    s->nrecords = n;
    if (norder > 1)
        qsort(order, norder, sizeof(*order), compare_due);
    s->order = order;
    s->norder = norder;
    s->cursor = 0;
    s->verified_in_pass = 0;
    s->state = SCANNER_PASS;
    scanner_check(s);
    return EMBER_OK;
}

/* PASS -> READING on order[cursor] (the caller checked it is due).
 * ENOENT (deleted meanwhile) and other open failures move on to the next
 * replica; the latter is retried after a period. */
static void scanner_open_next(dn_scanner *s, int64_t now) {
    assert(s->state == SCANNER_PASS && s->cursor < s->norder);
    scan_record *r = s->order[s->cursor];
    int rc = block_reader_open(s->dn->store, r->block_id, &s->reader);
    if (rc == EMBER_ENOENT) {
        r->gone = 1;
        s->cursor++;
        return;
    }
    if (rc != EMBER_OK) {
        LOG_WARN("datanode: block scanner cannot open blk_%" PRIu64 ": %s", r->block_id,
                 ember_strerror(rc));
        s->reader = NULL;
        r->verified = 1;
        r->verified_ms = now;
        s->cursor++;
        return;
    }
    r->gen_stamp = block_reader_info(s->reader)->gen_stamp;
    s->offset = 0;
    s->length = block_reader_info(s->reader)->length;
    s->state = SCANNER_READING;
    scanner_check(s);
}

/* READING -> PASS: closes the reader and records the outcome: rc is 0
 * when the whole replica checked out, EMBER_ECORRUPT when a chunk did not
 * (reported), EMBER_ENOENT when it was deleted meanwhile, else the read's
 * error (tried again after a period). */
static void scanner_finish_replica(dn_scanner *s, int rc, int64_t now) {
    assert(s->state == SCANNER_READING);
    scan_record *r = s->order[s->cursor];
    block_reader_close(s->reader);
    s->reader = NULL;
    s->state = SCANNER_PASS;
    s->cursor++;
    if (rc == EMBER_OK) {
        r->verified = 1;
        r->verified_ms = now;
        s->verified_in_pass++;
        LOG_DEBUG("datanode: block scanner verified blk_%" PRIu64 " (%" PRIu64 " bytes)",
                  r->block_id, s->length);
    } else if (rc == EMBER_ECORRUPT) {
        LOG_WARN("datanode: block scanner: replica of blk_%" PRIu64 " gs %" PRIu64
                 " on rank %d is corrupt (chunks from offset %" PRIu64
                 "); reporting it to the primary",
                 r->block_id, r->gen_stamp, s->dn->rank, s->offset);
        /* Not sent (the transport refused): read again next pass, and
         * reported then. */
        if (dn_send_bad_replica(s->dn, r->block_id) == EMBER_OK)
            r->reported = 1;
    } else if (rc == EMBER_ENOENT) {
        /* deleted while being read (dn_scanner_forget): nothing to record */
    } else {
        LOG_WARN("datanode: block scanner cannot read blk_%" PRIu64 " at offset %" PRIu64 ": %s",
                 r->block_id, s->offset, ember_strerror(rc));
        r->verified = 1; /* tried again after a period */
        r->verified_ms = now;
    }
    scanner_check(s);
}

/* What verifying the next piece of the replica being read costs: its
 * bytes, at least one chunk (an empty replica costs one too). */
static int64_t scanner_piece_cost(const dn_scanner *s) {
    uint64_t left = s->length - s->offset;
    return left < BLOCK_CHUNK_SIZE ? BLOCK_CHUNK_SIZE
           : left < SCANNER_PIECE  ? (int64_t)left
                                   : (int64_t)SCANNER_PIECE;
}

/* Verifies the next piece of the replica being read. */
static void scanner_read_piece(dn_scanner *s, int64_t now) {
    uint64_t left = s->length - s->offset;
    size_t n = left < SCANNER_PIECE ? (size_t)left : SCANNER_PIECE;
    if (n == 0) { /* an empty replica: nothing to check */
        scanner_finish_replica(s, EMBER_OK, now);
        return;
    }
    size_t got = 0;
    int rc = block_reader_pread(s->reader, s->buf, n, s->offset, &got);
    if (rc == EMBER_OK && got != n)
        rc = EMBER_ECORRUPT; /* shorter than the index says */
    if (rc != EMBER_OK) {
        scanner_finish_replica(s, rc, now);
        return;
    }
    s->offset += n;
    if (s->offset == s->length)
        scanner_finish_replica(s, EMBER_OK, now);
}

/* Every SCANNER_TICK_MS: earns credit and spends it on the pass, one
 * piece or one open at a time, while it covers the next step.  At most
 * one pass starts per tick, so that an empty or idle store costs one list
 * per tick at worst. */
static void scanner_on_timer(event_loop *loop, void *arg) {
    (void)loop;
    dn_scanner *s = arg;
    int64_t now = clock_monotonic_ms();
    int64_t elapsed = now - s->last_tick_ms;
    s->last_tick_ms = now;
    elapsed = elapsed < 0 ? 0 : elapsed > 1000 ? 1000 : elapsed;
    s->credit += s->bytes_per_sec * elapsed / 1000;
    if (s->credit > s->credit_cap)
        s->credit = s->credit_cap;
    int listed = 0;
    for (;;) {
        if (s->state == SCANNER_IDLE) {
            if (listed || now < s->next_pass_ms || scanner_begin_pass(s, now) != EMBER_OK)
                break;
            listed = 1;
        } else if (s->state == SCANNER_READING) {
            int64_t cost = scanner_piece_cost(s);
            if (s->credit < cost)
                break;
            s->credit -= cost;
            scanner_read_piece(s, now);
        } else if (s->cursor == s->norder) {
            scanner_end_pass(s, now, INT64_MAX);
        } else {
            scan_record *r = s->order[s->cursor];
            int64_t due = scanner_due_ms(s, r);
            if (r->gone || r->reported) {
                s->cursor++;
            } else if (due > now) {
                scanner_end_pass(s, now, due); /* every later one is verified later */
            } else if (s->credit < BLOCK_CHUNK_SIZE) {
                break;
            } else {
                s->credit -= BLOCK_CHUNK_SIZE; /* an open costs a chunk's read */
                scanner_open_next(s, now);
            }
        }
    }
    scanner_check(s);
}

int dn_scanner_start(datanode *dn, int64_t bytes_per_sec, int64_t period_ms) {
    if (bytes_per_sec <= 0)
        return EMBER_OK;
    if (bytes_per_sec > SCANNER_RATE_MAX)
        bytes_per_sec = SCANNER_RATE_MAX;
    if (period_ms < 0)
        period_ms = 0;
    dn_scanner *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return EMBER_ENOMEM;
    s->dn = dn;
    s->bytes_per_sec = bytes_per_sec;
    s->period_ms = period_ms;
    s->credit_cap =
        bytes_per_sec / 10 > (int64_t)SCANNER_PIECE ? bytes_per_sec / 10 : (int64_t)SCANNER_PIECE;
    s->state = SCANNER_IDLE;
    s->last_tick_ms = s->next_pass_ms = clock_monotonic_ms();
    int rc = event_loop_add_timer(dn->loop, SCANNER_TICK_MS, scanner_on_timer, s, &s->timer_id);
    if (rc != EMBER_OK) {
        free(s);
        return rc;
    }
    dn->scanner = s;
    LOG_INFO("datanode: block scanner on: %" PRId64 " bytes/s, each replica every %" PRId64 " ms",
             bytes_per_sec, period_ms);
    return EMBER_OK;
}

void dn_scanner_forget(datanode *dn, uint64_t block_id) {
    dn_scanner *s = dn->scanner;
    if (s == NULL)
        return;
    scan_record *r = scanner_find(s, block_id);
    if (r == NULL)
        return;
    r->gone = 1;
    if (s->state == SCANNER_READING && s->order[s->cursor] == r)
        scanner_finish_replica(s, EMBER_ENOENT, clock_monotonic_ms());
}

void dn_scanner_stop(datanode *dn) {
    dn_scanner *s = dn->scanner;
    if (s == NULL)
        return;
    event_loop_remove_timer(dn->loop, s->timer_id);
    block_reader_close(s->reader);
    free(s->order);
    free(s->records);
    free(s);
    dn->scanner = NULL;
}

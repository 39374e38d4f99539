/* job_placement.c -- what a job launches where (see job_master.h):
 * the answer to a node's offer of room, the LaunchAttempt it sends, the
 * map output events a reduce's worker gets first, and speculation.
 *
 * Placement of maps: node-local first (the node is one of the ranks
 * holding the split's main block, Split.ranks; a split that names only
 * hosts: the node's host is one of them), then, after `locality_delay` missed scheduling chances (offers of
 * a node where no pending map's data is; by default 40 capped at the
 * number of live nodes, as YARN caps it), rack-local (the rack of a
 * node holding the split is the node's; only with a rack map), then off-switch (after twice the
 * delay with a rack map, after the delay without).  A chance is missed
 * per offer the job declines, and the count restarts at every node-local
 * launch: Hadoop's delay scheduling (YARN's node-locality-delay).  A map
 * of no hosts (a generated split), or whose hosts are all gone, runs
 * anywhere at once.
 * Retries avoid the nodes where the task already failed while another
 * live node exists; a node where 3 (mapreduce.job.maxtaskfailures.per.
 * tracker) attempts of the job failed is blacklisted for the job, unless
 * every live node is.  Reduces start once slowstart of the maps are done,
 * and, while maps still wait for containers, hold at most half of the
 * job's containers (Hadoop's reduce ramp-up limit), so reruns of lost
 * maps always find room. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "job_master_internal.h"

#define JM_SETUP_VCORES 1
#define JM_SETUP_MEMORY_MB 256
#define JM_SPECULATIVE_SLOWDOWN 2.0 /* an attempt this many times its peers' mean is a straggler */
#define JM_SPECULATIVE_MIN_CAP 10   /* mapreduce.job.speculative.minimum-allowed-tasks */

void jm_send(job_master *jm, int rank, RankMessage *msg) {
    int rc = jm->env.send(jm->env.arg, rank, msg);
    if (rc != EMBER_OK)
        LOG_WARN("job %s: send to rank %d failed: %s", jm->job->job_id, rank, ember_strerror(rc));
}

void jm_kill_attempt(job_master *jm, jm_task *t, jm_attempt *a, const char *reason) {
    (void)t;
    if (a->kill_sent)
        return;
    a->kill_sent = 1;
    KillAttempt ka = KILL_ATTEMPT__INIT;
    ka.attempt_id = a->id;
    ka.reason = (char *)reason;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_KILL_ATTEMPT;
    msg.kill_attempt = &ka;
    jm_send(jm, a->rank, &msg);
}

void jm_send_events(job_master *jm, int rank, size_t from) {
    if (from >= jm->n_events)
        return;
    MapOutputEvents me = MAP_OUTPUT_EVENTS__INIT;
    me.job_id = jm->job->job_id;
    me.events = jm->events + from;
    me.n_events = jm->n_events - from;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS;
    msg.map_output_events = &me;
    jm_send(jm, rank, &msg);
}

static size_t jm_active_of(const jm_task *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->n_attempts; i++)
        n += jm_attempt_active(&t->attempts[i]);
    return n;
}

/* Maps waiting for a container. */
static uint32_t jm_maps_pending(const job_master *jm) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < jm->n_maps; i++)
        n += (jm->maps[i].state == TASK_NEW || jm->maps[i].state == TASK_SCHEDULED) &&
             jm_active_of(&jm->maps[i]) == 0;
    return n;
}

int jm_reduces_runnable(const job_master *jm) {
    if (jm->state != JM_RUNNING)
        return 0;
    if ((double)jm->maps_done < ceil(jm->slowstart * jm->n_maps))
        return 0;
    if (jm->maps_done == jm->n_maps || jm_maps_pending(jm) == 0)
        return 1;
    /* Maps wait for containers: a reduce started now only fetches the
     * outputs of maps done, so reduces hold at most a quarter of the
     * job's containers (Hadoop's ramp-up limit is half: on a
     * 2-container cluster one reduce held half the machine and the maps
     * ran one at a time, bench/wordcount.sh). */
    uint32_t reduces = 0;
    for (uint32_t i = 0; i < jm->n_reduces; i++)
        reduces += (uint32_t)jm_active_of(&jm->reduces[i]);
    return (reduces + 1) * 4 <= jm->active;
}

/* Whether t waits for a container; reduces_runnable is
 * jm_reduces_runnable(), computed once by callers that ask for many tasks
 * (-1: compute it here). */
static int jm_task_wants_given(const job_master *jm, const jm_task *t, int reduces_runnable) {
    size_t active = jm_active_of(t);
    if (t->want_backup && active == 1 && t->state == TASK_RUNNING)
        return 1;
    if (active > 0 || (t->state != TASK_NEW && t->state != TASK_SCHEDULED))
        return 0;
    switch (t->kind) {
    case TASK_KIND__TASK_KIND_JOB_SETUP: return jm->state == JM_SETUP;
    case TASK_KIND__TASK_KIND_MAP: return jm->state == JM_RUNNING;
    case TASK_KIND__TASK_KIND_REDUCE:
        return reduces_runnable >= 0 ? reduces_runnable : jm_reduces_runnable(jm);
    case TASK_KIND__TASK_KIND_JOB_CLEANUP:
        return (jm->state == JM_COMMITTING || jm->state == JM_ABORTING) && jm->active == 0;
    case TASK_KIND__TASK_KIND_UNKNOWN:
    case _TASK_KIND_IS_INT_SIZE: break;
    }
    return 0;
}

int jm_task_wants(const job_master *jm, const jm_task *t) { return jm_task_wants_given(jm, t, -1); }

int job_master_wants(const job_master *jm) {
    if (jm_task_wants(jm, &jm->setup) || jm_task_wants(jm, &jm->cleanup))
        return 1;
    for (uint32_t i = 0; i < jm->n_maps; i++)
        if (jm_task_wants(jm, &jm->maps[i]))
            return 1;
    int runnable = jm->n_reduces > 0 ? jm_reduces_runnable(jm) : 0;
    for (uint32_t i = 0; i < jm->n_reduces; i++)
        if (jm_task_wants_given(jm, &jm->reduces[i], runnable))
            return 1;
    return 0;
}

uint32_t job_master_containers(const job_master *jm) { return jm->active; }

uint32_t job_master_vcores(const job_master *jm) { return jm->vcores_held; }

uint64_t job_master_memory(const job_master *jm) { return jm->memory_held; }

/* ---- nodes: blacklist and retries elsewhere ---------------------------- */

static int jm_node_blacklisted(const job_master *jm, int rank) {
    return rank > 0 && rank < jm->n_node_failures &&
           jm->node_failures[rank] >= jm->max_failures_per_node;
}

/* Whether rank is blacklisted for the job, and another live node is not. */
static int jm_node_refused(const job_master *jm, int rank) {
    if (!jm_node_blacklisted(jm, rank))
        return 0;
    for (size_t i = 0; i < node_pool_count(jm->env.pool); i++) {
        const pool_node *n = node_pool_at(jm->env.pool, i);
        if (n->live && !jm_node_blacklisted(jm, n->rank))
            return 1;
    }
    return 0;
}

static int jm_task_failed_on(const jm_task *t, int rank) {
    for (size_t i = 0; i < t->n_attempts; i++)
        if (t->attempts[i].rank == rank && t->attempts[i].counted_failure)
            return 1;
    return 0;
}

/* Whether t should not run on rank: it failed there, and another live
 * usable node where it did not fail exists.  A backup never goes where
 * its twin runs. */
static int jm_task_avoids(const job_master *jm, const jm_task *t, int rank) {
    for (size_t i = 0; i < t->n_attempts; i++)
        if (jm_attempt_active(&t->attempts[i]) && t->attempts[i].rank == rank)
            return 1;
    if (!jm_task_failed_on(t, rank))
        return 0;
    for (size_t i = 0; i < node_pool_count(jm->env.pool); i++) {
        const pool_node *n = node_pool_at(jm->env.pool, i);
        if (n->live && n->rank != rank && !jm_node_refused(jm, n->rank) &&
            !jm_task_failed_on(t, n->rank))
            return 1;
    }
    return 0;
}

/* ---- launching -------------------------------------------------------- */

static void jm_task_size(const job_master *jm, const jm_task *t, uint32_t *vcores, uint64_t *mb) {
    const JobDescription *j = jm->job;
    if (t->kind == TASK_KIND__TASK_KIND_MAP) {
        *vcores = j->map_vcores ? j->map_vcores : 1;
        *mb = j->map_memory_mb ? j->map_memory_mb : 1024;
    } else if (t->kind == TASK_KIND__TASK_KIND_REDUCE) {
        *vcores = j->reduce_vcores ? j->reduce_vcores : 1;
        *mb = j->reduce_memory_mb ? j->reduce_memory_mb : 1024;
    } else {
        *vcores = JM_SETUP_VCORES;
        *mb = JM_SETUP_MEMORY_MB;
    }
}

static int jm_task_fits(const job_master *jm, const jm_task *t, const pool_node *n) {
    uint32_t v;
    uint64_t mb;
    jm_task_size(jm, t, &v, &mb);
    return node_pool_fits(n, v, mb);
}

/* Sends the LaunchAttempt of attempt a of task t. */
static void jm_send_launch(job_master *jm, jm_task *t, jm_attempt *a) {
    JobDescription job = *jm->job;
    job.n_splits = 0;
    job.splits = NULL;
    if (t->kind == TASK_KIND__TASK_KIND_MAP) {
        job.n_splits = 1;
        job.splits = &jm->job->splits[t->index];
    }
    TaskAssignment as = TASK_ASSIGNMENT__INIT;
    as.job_id = jm->job->job_id;
    as.attempt_id = a->id;
    as.kind = t->kind;
    as.task_index = t->index; /* setup: maps, cleanup: maps + 1, as their ids */
    as.attempt = a->number;
    as.job = &job;
    as.maps = jm->n_maps;
    as.gateway_host = (char *)jm->env.gateway_host;
    as.gateway_port = jm->env.gateway_port;
    as.job_token.data = jm->env.token;
    as.job_token.len = JOB_TOKEN_LEN;
    as.output_dir = "";
    char *history = NULL;
    if (t->kind == TASK_KIND__TASK_KIND_JOB_CLEANUP) {
        as.commit = jm->state == JM_COMMITTING;
        as.remove_output = !as.commit && jm->remove_output;
        history = job_master_history(jm);
        if (history != NULL) {
            as.history_json.data = (uint8_t *)history;
            as.history_json.len = strlen(history);
        }
    }
    LaunchAttempt la = LAUNCH_ATTEMPT__INIT;
    la.assignment = &as;
    la.vcores = a->vcores;
    la.memory_mb = a->memory_mb;
    la.timeout_ms = jm->timeout_ms;
    la.locality = (char *)a->locality;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_LAUNCH_ATTEMPT;
    msg.launch_attempt = &la;
    jm_send(jm, a->rank, &msg);
    free(history);
}

/* Launches a new attempt of t on node n: 1, or 0 when it does not fit. */
static int jm_launch(job_master *jm, jm_task *t, const pool_node *n, const char *locality) {
    uint32_t vcores;
    uint64_t mb;
    jm_task_size(jm, t, &vcores, &mb);
    if (t->n_attempts == t->cap_attempts) {
        size_t cap = t->cap_attempts ? t->cap_attempts * 2 : 2;
        jm_attempt *grown = realloc(t->attempts, cap * sizeof(*grown));
        if (grown == NULL)
            return 0;
        t->attempts = grown;
        t->cap_attempts = cap;
    }
    if (node_pool_book(jm->env.pool, n->rank, vcores, mb) != EMBER_OK)
        return 0;
    int backup = jm_active_of(t) > 0;
    jm_attempt *a = &t->attempts[t->n_attempts];
    memset(a, 0, sizeof(*a));
    a->number = (uint32_t)t->n_attempts;
    snprintf(a->id, sizeof(a->id), "attempt_%s_%c_%06u_%u", jm->job->job_id + 4,
             t->kind == TASK_KIND__TASK_KIND_REDUCE ? 'r' : 'm', t->index, a->number);
    a->rank = n->rank;
    snprintf(a->hostname, sizeof(a->hostname), "%s", n->hostname);
    a->state = ATTEMPT_STATE__ATTEMPT_STARTING;
    a->phase = TASK_PHASE__PHASE_STARTING;
    a->speculative = backup;
    a->booked = 1;
    a->locality = locality;
    a->vcores = vcores;
    a->memory_mb = mb;
    a->launch_mono = jm->env.now_mono(jm->env.arg);
    a->start_wall = jm->env.now_wall(jm->env.arg);
    t->n_attempts++;
    jm->active++;
    jm->vcores_held += vcores;
    jm->memory_held += mb;
    jm->launches++;
    if (backup)
        t->want_backup = 0;
    if (t->kind == TASK_KIND__TASK_KIND_MAP) {
        jm->launched_maps++;
        jm->data_local += strcmp(locality, "node-local") == 0;
        jm->rack_local += strcmp(locality, "rack-local") == 0;
        jm->other_local += strcmp(locality, "off-switch") == 0;
    } else if (t->kind == TASK_KIND__TASK_KIND_REDUCE) {
        jm->launched_reduces++;
        if (n->rank < jm->n_event_ranks && !jm->event_ranks[n->rank]) {
            jm_send_events(jm, n->rank, 0); /* before the launch, as the contract says */
            jm->event_ranks[n->rank] = 1;
        }
    }
    if (t->state == TASK_NEW || t->state == TASK_SCHEDULED)
        jm_task_transition(jm, t, TASK_SCHEDULED);
    else
        jm_task_check(jm, t);
    LOG_DEBUG("job %s: %s on rank %d (%s)%s", jm->job->job_id, a->id, n->rank, locality,
              backup ? ", a speculative backup" : "");
    jm_send_launch(jm, t, a);
    return 1;
}

/* ---- the offer -------------------------------------------------------- */

/* Whether node n holds the split's data: one of the ranks of its main
 * block's replicas (Split.ranks; a node is a rank, and ranks may share a
 * host), or, for a split that names only hosts, a host of it. */
static int jm_split_on_node(const Split *s, const pool_node *n) {
    for (size_t i = 0; i < s->n_ranks; i++)
        if ((int)s->ranks[i] == n->rank)
            return 1;
    for (size_t i = 0; s->n_ranks == 0 && i < s->n_hosts; i++)
        if (strcmp(s->hosts[i], n->hostname) == 0)
            return 1;
    return 0;
}

/* Whether some live node is on one of the split's hosts: a map whose
 * hosts are all gone has no locality to wait for. */
static int jm_split_reachable(const job_master *jm, const Split *s) {
    for (size_t i = 0; i < node_pool_count(jm->env.pool); i++) {
        const pool_node *n = node_pool_at(jm->env.pool, i);
        if (n->live && jm_split_on_node(s, n))
            return 1;
    }
    return 0;
}

static int jm_split_on_rack(const job_master *jm, const Split *s, const char *rack) {
    if (rack[0] == '\0')
        return 0;
    for (size_t i = 0; i < s->n_ranks; i++) { /* the replicas' nodes' racks */
        const pool_node *r = node_pool_get(jm->env.pool, (int)s->ranks[i]);
        if (r != NULL && strcmp(r->rack, rack) == 0)
            return 1;
    }
    for (size_t i = 0; s->n_ranks == 0 && jm->env.rack_of_host != NULL && i < s->n_hosts; i++) {
        const char *r = jm->env.rack_of_host(jm->env.arg, s->hosts[i]);
        if (r != NULL && strcmp(r, rack) == 0)
            return 1;
    }
    return 0;
}

/* Where node n stands to t's data: a map's split on it, in its rack,
 * or neither ("off-switch", also every reduce's). */
static const char *jm_locality(const job_master *jm, const jm_task *t, const pool_node *n) {
    if (t->kind != TASK_KIND__TASK_KIND_MAP)
        return "off-switch";
    const Split *s = jm->job->splits[t->index];
    if (jm_split_on_node(s, n))
        return "node-local";
    return jm_split_on_rack(jm, s, n->rack) ? "rack-local" : "off-switch";
}

/* The maps' part of an offer: node-local, else (after the delay)
 * rack-local, else off-switch. */
static int jm_offer_maps(job_master *jm, const pool_node *n) {
    jm_task *rack = NULL, *any = NULL, *nohost = NULL;
    int racks = n->rack[0] != '\0';
    int waiting = 0; /* a map with hosts is pending */
    for (uint32_t i = 0; i < jm->n_maps; i++) {
        jm_task *t = &jm->maps[i];
        if (t->want_backup || !jm_task_wants(jm, t) || jm_task_avoids(jm, t, n->rank))
            continue;
        const Split *s = jm->job->splits[i];
        if ((s->n_hosts == 0 && s->n_ranks == 0) || !jm_split_reachable(jm, s)) {
            if (nohost == NULL)
                nohost = t;
            continue;
        }
        waiting = 1;
        if (jm_split_on_node(s, n)) {
            if (!jm_task_fits(jm, t, n))
                return 0;
            jm->missed = 0;
            return jm_launch(jm, t, n, "node-local");
        }
        if (rack == NULL && racks && jm_split_on_rack(jm, s, n->rack))
            rack = t;
        if (any == NULL)
            any = t;
    }
    /* The default is YARN's: 40 capped at the cluster's node count (its
     * getActualNodeLocalityDelay()), since passing over every node once
     * shows that none holding the data has room; a configured delay is
     * kept as it is. */
    int delay = jm->env.locality_delay;
    if (delay < 0) {
        size_t live = node_pool_live(jm->env.pool);
        delay = live < JM_LOCALITY_DELAY_DEFAULT ? (int)live : JM_LOCALITY_DELAY_DEFAULT;
    }
    if (rack != NULL && jm->missed >= delay && jm_task_fits(jm, rack, n))
        return jm_launch(jm, rack, n, "rack-local");
    if (nohost != NULL && jm_task_fits(jm, nohost, n))
        return jm_launch(jm, nohost, n, "off-switch");
    if (any != NULL && jm->missed >= (racks ? 2 * delay : delay) && jm_task_fits(jm, any, n))
        return jm_launch(jm, any, n, "off-switch");
    if (waiting)
        jm->missed++;
    return 0;
}

static int jm_offer_list(job_master *jm, jm_task *list, uint32_t count, const pool_node *n,
                         int backups) {
    int runnable =
        count > 0 && list[0].kind == TASK_KIND__TASK_KIND_REDUCE ? jm_reduces_runnable(jm) : -1;
    for (uint32_t i = 0; i < count; i++) {
        jm_task *t = &list[i];
        if ((backups && !t->want_backup) || !jm_task_wants_given(jm, t, runnable) ||
            jm_task_avoids(jm, t, n->rank) || !jm_task_fits(jm, t, n))
            continue;
        return jm_launch(jm, t, n, jm_locality(jm, t, n));
    }
    return 0;
}

int job_master_offer(job_master *jm, int rank) {
    const pool_node *n = node_pool_get(jm->env.pool, rank);
    if (n == NULL || !n->live || job_master_done(jm) || jm_node_refused(jm, rank))
        return 0;
    jm_task *special[] = {&jm->setup, &jm->cleanup};
    for (size_t k = 0; k < 2; k++)
        if (jm_task_wants(jm, special[k]) && !jm_task_avoids(jm, special[k], rank))
            return jm_task_fits(jm, special[k], n) && jm_launch(jm, special[k], n, "off-switch");
    if (jm->state != JM_RUNNING)
        return 0;
    if (jm_offer_maps(jm, n))
        return 1;
    if (jm_offer_list(jm, jm->reduces, jm->n_reduces, n, 0))
        return 1;
    return jm_offer_list(jm, jm->maps, jm->n_maps, n, 1) ||
           jm_offer_list(jm, jm->reduces, jm->n_reduces, n, 1);
}

/* ---- speculation ------------------------------------------------------ */

/* Marks stragglers of one kind for a backup attempt: an attempt running
 * longer than its peers' mean, on course to take over twice it. */
static void jm_speculate_kind(job_master *jm, jm_task *list, uint32_t count, int64_t now) {
    double sum = 0;
    uint32_t done = 0, speculating = 0;
    for (uint32_t i = 0; i < count; i++) {
        const jm_task *t = &list[i];
        if (t->state == TASK_SUCCEEDED) {
            const jm_attempt *a = &t->attempts[t->successful];
            sum += (double)(a->end_mono - a->launch_mono);
            done++;
        }
        speculating += t->want_backup || jm_active_of(t) > 1;
    }
    if (done == 0 || node_pool_live(jm->env.pool) < 2)
        return;
    double mean = sum / done;
    uint32_t cap = count / 10 > JM_SPECULATIVE_MIN_CAP ? count / 10 : JM_SPECULATIVE_MIN_CAP;
    for (uint32_t i = 0; i < count && speculating < cap; i++) {
        jm_task *t = &list[i];
        if (t->state != TASK_RUNNING || t->want_backup || jm_active_of(t) != 1)
            continue;
        const jm_attempt *a = NULL;
        int had_backup = 0;
        for (size_t j = 0; j < t->n_attempts; j++) {
            had_backup |= t->attempts[j].speculative;
            if (jm_attempt_active(&t->attempts[j]))
                a = &t->attempts[j];
        }
        if (had_backup || a->state != ATTEMPT_STATE__ATTEMPT_RUNNING || a->kill_sent)
            continue;
        double elapsed = (double)(now - a->launch_mono);
        double total = a->progress > 0.001 ? elapsed / a->progress : INFINITY;
        if (elapsed > mean && total > JM_SPECULATIVE_SLOWDOWN * mean) {
            t->want_backup = 1;
            speculating++;
            LOG_INFO("job %s: %s is a straggler (%.0f ms, %.0f%% done; its peers took %.0f ms): "
                     "a backup attempt is wanted",
                     jm->job->job_id, a->id, elapsed, a->progress * 100.0, mean);
        }
    }
}

void jm_speculate(job_master *jm) {
    if (jm->state != JM_RUNNING)
        return;
    int64_t now = jm->env.now_mono(jm->env.arg);
    if (jm->map_speculative)
        jm_speculate_kind(jm, jm->maps, jm->n_maps, now);
    if (jm->reduce_speculative)
        jm_speculate_kind(jm, jm->reduces, jm->n_reduces, now);
}

void job_master_tick(job_master *jm) { jm_speculate(jm); }

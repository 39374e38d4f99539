/* mpi_link_fixture.h -- the small message the mpi_link unit tests number
 * their sends with: a Heartbeat whose seq is the number. */
#ifndef EMBER_TEST_MPI_LINK_FIXTURE_H
#define EMBER_TEST_MPI_LINK_FIXTURE_H

#include <stdint.h>

#include "cluster.pb-c.h"

typedef struct {
    RankMessage msg;
    Heartbeat hb;
    StorageReport st;
    ContainerResources res;
} small_msg;

static inline void make_small(small_msg *m, uint64_t seq) {
    m->st = (StorageReport)STORAGE_REPORT__INIT;
    m->hb = (Heartbeat)HEARTBEAT__INIT;
    m->hb.seq = seq;
    m->hb.storage = &m->st;
    m->res = (ContainerResources)CONTAINER_RESOURCES__INIT;
    m->hb.resources = &m->res;
    m->msg = (RankMessage)RANK_MESSAGE__INIT;
    m->msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    m->msg.heartbeat = &m->hb;
}

#endif

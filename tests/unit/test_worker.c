/* test_worker.c -- unit tests for worker/worker_resources.c, the device
 * lookups of worker/worker_topology.c and worker/worker.c.
 *
 * The offer's arithmetic for core and task nodes, every override and the
 * refusal of a reserve that leaves nothing; claims and releases and their
 * refusals; the proto round trip.  The block device under a directory
 * through a fake /sys (a partition, a device-mapper device over one
 * partition, an md device over two disks, no block device at all) and
 * through the real one; the interface of an address.  Then a worker on a
 * synthetic machine: its offer, containers booked until the vcores run
 * out (each on free cores, packed), given back, and its hints.  Workers
 * on their share of a host (worker_share.h): ranks 2 and 3 of four on 8
 * cores, two on 2 cores (a share of one unit reserves nothing), four on
 * 2 cores; the placement view of a share and its refused shares; and a
 * binding narrower than the real machine, made with sched_setaffinity. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/topology.h"
#include "worker/worker.h"
#include "worker/worker_resources.h"
#include "worker/worker_topology.h"

#define GIB (UINT64_C(1) << 30)

static worker_resources_options defaults(void) {
    return (worker_resources_options){
        .cpu_vcores = -1, .memory_mb = -1, .reserved_memory_mb = -1, .reserved_cores = -1};
}

/* ---- the offer ------------------------------------------------------- */

static void test_offer_defaults(void **state) {
    (void)state;
    worker_resources_options o = defaults();
    worker_resources r;
    char err[256] = "";
    /* A core node keeps one core for its loop and datanode, and 20% of
     * the memory, as Hadoop reserves when it detects the hardware. */
    assert_int_equal(worker_resources_compute(&o, 1, 16, 16 * GIB, &r, err, sizeof(err)), 0);
    assert_int_equal(r.units, 16);
    assert_int_equal(r.reserved_units, 1);
    assert_int_equal(r.vcores, 15);
    assert_true(r.physical_mb == 16384);
    assert_true(r.reserved_mb == 3276);
    assert_true(r.memory_mb == 13108);
    assert_int_equal(r.containers, 0);
    char text[256];
    worker_resources_describe(&r, "cores", text, sizeof(text));
    assert_string_equal(text, "15 vcores (16 cores, 1 reserved for this rank), 13108 MB (of "
                              "16384 MB, 3276 MB reserved)");
    /* A task node keeps none; a one-core machine always offers its core. */
    assert_int_equal(worker_resources_compute(&o, 0, 16, 16 * GIB, &r, err, sizeof(err)), 0);
    assert_int_equal(r.reserved_units, 0);
    assert_int_equal(r.vcores, 16);
    assert_int_equal(worker_resources_compute(&o, 1, 1, GIB, &r, err, sizeof(err)), 0);
    assert_int_equal(r.reserved_units, 0);
    assert_int_equal(r.vcores, 1);
}

static void test_offer_overrides(void **state) {
    (void)state;
    worker_resources r;
    char err[256] = "";
    worker_resources_options o = defaults();
    o.cpu_vcores = 40; /* Hadoop takes more vcores than cores */
    o.memory_mb = 100000;
    assert_int_equal(worker_resources_compute(&o, 1, 16, 16 * GIB, &r, err, sizeof(err)), 0);
    assert_int_equal(r.vcores, 40);
    assert_int_equal(r.reserved_units, 1); /* still no attempt on the rank's core */
    assert_true(r.memory_mb == 100000);
    assert_true(r.reserved_mb == 0);
    char text[256];
    worker_resources_describe(&r, "cores", text, sizeof(text));
    assert_string_equal(text, "40 vcores (16 cores, 1 reserved for this rank), 100000 MB (more "
                              "than the 16384 MB there is)");
    o = defaults();
    o.reserved_memory_mb = 2048;
    o.reserved_cores = 3;
    assert_int_equal(worker_resources_compute(&o, 0, 16, 16 * GIB, &r, err, sizeof(err)), 0);
    assert_true(r.memory_mb == 14336);
    assert_int_equal(r.vcores, 13);
    o.reserved_cores = 99; /* capped: one core is always left */
    o.cpu_vcores = 0;      /* a node that offers no vcores */
    assert_int_equal(worker_resources_compute(&o, 1, 16, 16 * GIB, &r, err, sizeof(err)), 0);
    assert_int_equal(r.reserved_units, 15);
    assert_int_equal(r.vcores, 0);
    assert_int_equal(worker_resources_claim(&r, 1, 0), EMBER_EAGAIN);
    /* A reserve that leaves nothing is refused, saying so. */
    o = defaults();
    o.reserved_memory_mb = 16384;
    r.vcores = 12345;
    assert_int_equal(worker_resources_compute(&o, 1, 16, 16 * GIB, &r, err, sizeof(err)),
                     EMBER_EINVAL);
    assert_string_equal(err, "yarn.nodemanager.resource.system-reserved-memory-mb (16384 MB) "
                             "leaves nothing of this node's 16384 MB for containers");
    assert_int_equal(r.vcores, 12345); /* untouched */
}

static void test_offer_from_config(void **state) {
    (void)state;
    config *cfg;
    char err[256];
    assert_int_equal(config_create(&cfg), 0);
    worker_resources_options o;
    worker_resources_options_from_config(cfg, &o);
    assert_true(o.cpu_vcores == -1 && o.memory_mb == -1 && o.reserved_memory_mb == -1 &&
                o.reserved_cores == -1 && o.pus_as_vcores == 0);
    assert_int_equal(
        config_apply_define(cfg, "yarn.nodemanager.resource.cpu-vcores=6", err, sizeof(err)), 0);
    assert_int_equal(
        config_apply_define(cfg, "yarn.nodemanager.resource.memory-mb=4096", err, sizeof(err)), 0);
    assert_int_equal(config_apply_define(cfg,
                                         "yarn.nodemanager.resource.system-reserved-memory-mb=512",
                                         err, sizeof(err)),
                     0);
    assert_int_equal(config_apply_define(cfg, "ember.worker.reserved-cores=2", err, sizeof(err)),
                     0);
    assert_int_equal(
        config_apply_define(cfg, "yarn.nodemanager.resource.count-logical-processors-as-cores=true",
                            err, sizeof(err)),
        0);
    worker_resources_options_from_config(cfg, &o);
    assert_true(o.cpu_vcores == 6 && o.memory_mb == 4096 && o.reserved_memory_mb == 512 &&
                o.reserved_cores == 2 && o.pus_as_vcores == 1);
    /* Below -1 is refused by the key's range. */
    assert_int_equal(
        config_apply_define(cfg, "yarn.nodemanager.resource.memory-mb=-2", err, sizeof(err)),
        EMBER_ECONFIG);
    assert_non_null(strstr(err, "yarn.nodemanager.resource.memory-mb"));
    config_destroy(cfg);
}

static void test_claims(void **state) {
    (void)state;
    worker_resources_options o = defaults();
    o.cpu_vcores = 4;
    o.memory_mb = 1000;
    worker_resources r;
    char err[128];
    assert_int_equal(worker_resources_compute(&o, 0, 8, 8 * GIB, &r, err, sizeof(err)), 0);
    assert_int_equal(worker_resources_claim(&r, 0, 10), EMBER_EINVAL);
    assert_int_equal(worker_resources_claim(&r, 3, 600), 0);
    assert_int_equal(worker_resources_claim(&r, 2, 100), EMBER_EAGAIN); /* vcores */
    assert_int_equal(worker_resources_claim(&r, 1, 401), EMBER_EAGAIN); /* memory */
    assert_int_equal(r.containers, 1);
    assert_int_equal(worker_resources_claim(&r, 1, 400), 0);
    assert_int_equal(r.containers, 2);
    assert_int_equal(r.vcores_used, 4);
    assert_true(r.memory_used_mb == 1000);
    assert_int_equal(worker_resources_release(&r, 2, 100), 0);
    assert_int_equal(r.vcores_used, 2);
    /* The last container must give back exactly what is left. */
    assert_int_equal(worker_resources_release(&r, 1, 900), EMBER_EINVAL);
    assert_int_equal(worker_resources_release(&r, 3, 0), EMBER_EINVAL);
    assert_int_equal(worker_resources_release(&r, 2, 900), 0);
    assert_int_equal(r.containers, 0);
    assert_int_equal(worker_resources_release(&r, 1, 0), EMBER_EINVAL);
    /* Through the proto message and back. */
    assert_int_equal(worker_resources_claim(&r, 2, 300), 0);
    r.pus = 1;
    ContainerResources m;
    worker_resources_to_proto(&r, &m);
    assert_int_equal(m.vcores_used, 2);
    assert_true(m.memory_used_mb == 300);
    assert_true(m.pus_as_vcores);
    worker_resources back;
    worker_resources_from_proto(&m, &back);
    assert_true(back.units == r.units && back.reserved_units == r.reserved_units &&
                back.vcores == r.vcores && back.physical_mb == r.physical_mb &&
                back.reserved_mb == r.reserved_mb && back.memory_mb == r.memory_mb &&
                back.vcores_used == r.vcores_used && back.memory_used_mb == r.memory_used_mb &&
                back.containers == r.containers && back.pus == r.pus);
}

/* ---- devices under paths --------------------------------------------- */

typedef struct {
    char root[64];
    char dev[32]; /* "M:m" of root's file system */
} fake_sys;

static void make_path(const char *root, const char *rel, int is_dir) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    if (is_dir) {
        mkdir(path, 0755);
    } else {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
    }
}

static void make_link(const char *root, const char *rel, const char *target) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    unlink(path);
    assert_int_equal(symlink(target, path), 0);
}

static void fake_sys_open(fake_sys *s) {
    snprintf(s->root, sizeof(s->root), "/tmp/worker-test-sys.XXXXXX");
    assert_non_null(mkdtemp(s->root));
    struct stat st;
    assert_int_equal(stat(s->root, &st), 0);
    snprintf(s->dev, sizeof(s->dev), "%u:%u", major(st.st_dev), minor(st.st_dev));
    make_path(s->root, "devices/pci0000:00/0000:00:1d.0/nvme/nvme1/nvme1n1/nvme1n1p1/partition", 0);
    make_path(s->root, "devices/pci0000:00/0000:00:1d.0/nvme/nvme1/nvme1n1/nvme1n1p2/partition", 0);
    make_path(s->root, "devices/virtual/block/dm-0/slaves/nvme1n1p2", 0);
    make_path(s->root, "devices/virtual/block/md0/slaves/sda", 0);
    make_path(s->root, "devices/virtual/block/md0/slaves/sdb", 0);
    make_path(s->root, "class/block", 1);
    make_path(s->root, "dev/block", 1);
    make_link(s->root, "class/block/nvme1n1p2",
              "../../devices/pci0000:00/0000:00:1d.0/nvme/nvme1/nvme1n1/nvme1n1p2");
}

static void fake_sys_close(fake_sys *s) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->root);
    assert_int_equal(system(cmd), 0);
}

static void test_block_device_of(void **state) {
    (void)state;
    fake_sys s;
    fake_sys_open(&s);
    char name[64], why[256], link[64];
    snprintf(link, sizeof(link), "dev/block/%s", s.dev);
    /* No block device behind the file system. */
    assert_int_equal(
        worker_topology_block_device_of(s.root, s.root, name, sizeof(name), why, sizeof(why)),
        EMBER_ENOENT);
    assert_non_null(strstr(why, "which is no block device"));
    /* A partition: its disk. */
    make_link(s.root, link, "../../devices/pci0000:00/0000:00:1d.0/nvme/nvme1/nvme1n1/nvme1n1p1");
    assert_int_equal(
        worker_topology_block_device_of(s.root, s.root, name, sizeof(name), why, sizeof(why)), 0);
    assert_string_equal(name, "nvme1n1");
    /* A device-mapper device over one partition: that partition's disk. */
    make_link(s.root, link, "../../devices/virtual/block/dm-0");
    assert_int_equal(
        worker_topology_block_device_of(s.root, s.root, name, sizeof(name), why, sizeof(why)), 0);
    assert_string_equal(name, "nvme1n1");
    /* An md device over two disks: itself (no one disk to name). */
    make_link(s.root, link, "../../devices/virtual/block/md0");
    assert_int_equal(
        worker_topology_block_device_of(s.root, s.root, name, sizeof(name), why, sizeof(why)), 0);
    assert_string_equal(name, "md0");
    /* A path that does not exist. */
    assert_int_equal(worker_topology_block_device_of(s.root, "/no/such/dir", name, sizeof(name),
                                                     why, sizeof(why)),
                     EMBER_ENOENT);
    assert_non_null(strstr(why, "cannot stat /no/such/dir"));
    fake_sys_close(&s);
}

/* The real /sys: /tmp's file system is on a whole disk sysfs names, or
 * on no block device at all (tmpfs, overlay). */
static void test_block_device_of_real(void **state) {
    (void)state;
    struct stat st;
    assert_int_equal(stat("/tmp", &st), 0);
    char link[64], name[64], why[256], path[128];
    snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
    int rc = worker_topology_block_device_of("/sys", "/tmp", name, sizeof(name), why, sizeof(why));
    if (access(link, F_OK) != 0) {
        assert_int_equal(rc, EMBER_ENOENT);
        return;
    }
    assert_int_equal(rc, 0);
    snprintf(path, sizeof(path), "/sys/class/block/%s", name);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "/sys/class/block/%s/partition", name);
    assert_int_not_equal(access(path, F_OK), 0); /* a whole disk */
}

static void test_interface_of(void **state) {
    (void)state;
    char name[64];
    assert_int_equal(worker_topology_interface_of("127.0.0.1", name, sizeof(name)), 0);
    assert_string_equal(name, "lo");
    assert_int_equal(worker_topology_interface_of("0.0.0.0", name, sizeof(name)), EMBER_ENOENT);
    assert_int_equal(worker_topology_interface_of("192.0.2.77", name, sizeof(name)), EMBER_ENOENT);
    assert_int_equal(worker_topology_interface_of("not-an-address", name, sizeof(name)),
                     EMBER_ENOENT);
}

/* ---- the worker ------------------------------------------------------- */

typedef struct {
    config *cfg;
    topology *topo;
    worker *w;
    char dir[64];
} worker_fixture;

/* Opens a worker on synthetic with the options in tmpl (cfg, topo and
 * the data directory are filled in here), after applying define. */
static int worker_open_as(worker_fixture *f, const char *synthetic, const char *define,
                          worker_options tmpl, char *err, size_t errlen) {
    memset(f, 0, sizeof(*f));
    assert_int_equal(config_create(&f->cfg), 0);
    if (define != NULL)
        assert_int_equal(config_apply_define(f->cfg, define, err, errlen), 0);
    assert_int_equal(topology_load(synthetic, NULL, &f->topo, err, errlen), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/worker-test-data.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    tmpl.cfg = f->cfg;
    tmpl.topo = f->topo;
    tmpl.data_dirs = f->dir;
    tmpl.bind_addr = "127.0.0.1";
    return worker_create(&tmpl, &f->w, err, errlen);
}

static int worker_open(worker_fixture *f, const char *synthetic, int core_node, const char *define,
                       char *err, size_t errlen) {
    return worker_open_as(f, synthetic, define, (worker_options){.core_node = core_node}, err,
                          errlen);
}

static void worker_close(worker_fixture *f) {
    worker_destroy(f->w);
    topology_destroy(f->topo);
    config_destroy(f->cfg);
    rmdir(f->dir);
}

static void test_worker_books_containers(void **state) {
    (void)state;
    worker_fixture f;
    char err[256] = "";
    assert_int_equal(worker_open(&f, "package:2 numa:1 core:4 pu:2", 1, NULL, err, sizeof(err)), 0);
    const worker_resources *r = worker_offer(f.w);
    assert_int_equal(r->units, 8);
    assert_int_equal(r->reserved_units, 1);
    assert_int_equal(r->vcores, 7);
    assert_true(r->physical_mb == 2048);
    assert_true(r->memory_mb == 1639);
    ContainerResources m = CONTAINER_RESOURCES__INIT;
    worker_fill_resources(f.w, &m);
    assert_int_equal(m.vcores, 7);
    assert_int_equal(m.containers, 0);
    assert_false(m.pus_as_vcores);
    /* Three 2-vcore containers fill NUMA node 0, then node 1. */
    placement_choice c[4];
    assert_int_equal(worker_container_book(f.w, 2, 512, NULL, &c[0]), 0);
    assert_string_equal(c[0].units_text, "0-1");
    assert_int_equal(worker_container_book(f.w, 2, 512, NULL, &c[1]), 0);
    assert_string_equal(c[1].units_text, "2-3");
    assert_int_equal(worker_container_book(f.w, 2, 700, NULL, &c[2]), EMBER_EAGAIN); /* memory */
    assert_int_equal(worker_container_book(f.w, 2, 256, NULL, &c[2]), 0);
    assert_string_equal(c[2].units_text, "4-5");
    assert_int_equal(worker_container_book(f.w, 2, 0, NULL, &c[3]), EMBER_EAGAIN); /* vcores */
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &c[3]), 0);
    assert_string_equal(c[3].units_text, "6"); /* core 7 is the rank's */
    worker_fill_resources(f.w, &m);
    assert_int_equal(m.containers, 4);
    assert_int_equal(m.vcores_used, 7);
    assert_true(m.memory_used_mb == 1280);
    /* Given back: the counters and the cores come back. */
    assert_int_equal(worker_container_unbook(f.w, 2, 512, &c[1]), 0);
    placement_choice again;
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &again), 0);
    assert_string_equal(again.units_text, "2"); /* free again */
    /* A booking never made is refused and changes nothing. */
    placement_choice bogus = {.count = 1, .units = {3}};
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &bogus), EMBER_EINVAL);
    assert_int_equal(worker_offer(f.w)->containers, 4);
    assert_int_equal(worker_container_book(f.w, 0, 0, NULL, &bogus), EMBER_EINVAL);
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &again), 0);
    assert_int_equal(worker_container_unbook(f.w, 2, 512, &c[0]), 0);
    assert_int_equal(worker_container_unbook(f.w, 2, 256, &c[2]), 0);
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &c[3]), 0);
    worker_fill_resources(f.w, &m);
    assert_int_equal(m.containers, 0);
    assert_int_equal(m.vcores_used, 0);
    assert_true(m.memory_used_mb == 0);
    worker_close(&f);
}

/* A worker on its share of the host: the synthetic "package:2 numa:1
 * core:4 pu:2" (8 cores) shared by worker ranks 1-4. */
static int worker_open_shared(worker_fixture *f, const char *synthetic, int rank, int core_node,
                              const int *ranks, size_t nranks) {
    char err[256] = "";
    worker_options tmpl = {
        .core_node = core_node, .rank = rank, .host_workers = ranks, .n_host_workers = nranks};
    return worker_open_as(f, synthetic, NULL, tmpl, err, sizeof(err));
}

static void test_worker_share_of_host(void **state) {
    (void)state;
    static const int ranks[] = {1, 2, 3, 4};
    const char *eight = "package:2 numa:1 core:4 pu:2";
    worker_fixture f;
    /* Rank 3, a task node, third of four: cores 4-5 of 8, both offered. */
    assert_int_equal(worker_open_shared(&f, eight, 3, 0, ranks, 4), 0);
    const worker_resources *r = worker_offer(f.w);
    assert_int_equal(r->units, 2);
    assert_int_equal(r->reserved_units, 0);
    assert_int_equal(r->vcores, 2);
    assert_int_equal(r->host_units, 8);
    assert_string_equal(r->share, "4-5");
    char text[128];
    ContainerResources m = CONTAINER_RESOURCES__INIT;
    worker_fill_resources(f.w, &m);
    assert_int_equal(m.host_units, 8);
    assert_string_equal(m.share, "4-5");
    worker_resources_share_text(&m, text, sizeof(text));
    assert_string_equal(text, "cores 4-5 of the host's 8");
    m.host_units = 0; /* from a rank that does not say */
    worker_resources_share_text(&m, text, sizeof(text));
    assert_string_equal(text, "");
    /* Containers land on the share, named by the host's numbering. */
    placement_choice c[3];
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &c[0]), 0);
    assert_string_equal(c[0].units_text, "4");
    assert_string_equal(c[0].pus, "8-9");
    assert_string_equal(c[0].reason, "core 4 on NUMA node 1: packed, no device locality known");
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &c[1]), 0);
    assert_string_equal(c[1].units_text, "5");
    assert_string_equal(c[1].pus, "10-11");
    /* The share is full: no third container, though cores 0-3 and 6-7
     * are free on the host (they are the other ranks'). */
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &c[2]), EMBER_EAGAIN);
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &c[1]), 0);
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &c[0]), 0);
    assert_int_equal(worker_container_book(f.w, 2, 0, NULL, &c[2]), 0);
    assert_string_equal(c[2].units_text, "4-5");
    assert_string_equal(c[2].pus, "8-11");
    assert_int_equal(worker_container_unbook(f.w, 2, 0, &c[2]), 0);
    /* A synthetic machine is not this one: containers are not bound. */
    assert_non_null(worker_unbound_why(f.w));
    assert_non_null(strstr(worker_unbound_why(f.w), "synthetic topology"));
    worker_close(&f);
    /* Rank 2, a core node: cores 2-3, the last kept for the rank. */
    assert_int_equal(worker_open_shared(&f, eight, 2, 1, ranks, 4), 0);
    r = worker_offer(f.w);
    assert_int_equal(r->units, 2);
    assert_int_equal(r->reserved_units, 1);
    assert_int_equal(r->vcores, 1);
    assert_string_equal(r->share, "2-3");
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &c[0]), 0);
    assert_string_equal(c[0].units_text, "2");
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &c[0]), 0);
    worker_close(&f);
    /* Two core ranks on 2 cores: one each, and a share of one unit keeps
     * it for containers (nothing reserved). */
    static const int two[] = {1, 2};
    assert_int_equal(worker_open_shared(&f, "pack:1 core:2 pu:1", 2, 1, two, 2), 0);
    r = worker_offer(f.w);
    assert_int_equal(r->units, 1);
    assert_int_equal(r->reserved_units, 0);
    assert_int_equal(r->vcores, 1);
    assert_string_equal(r->share, "1");
    worker_fill_resources(f.w, &m);
    worker_resources_share_text(&m, text, sizeof(text));
    assert_string_equal(text, "core 1 of the host's 2");
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &c[0]), 0);
    assert_string_equal(c[0].reason, "core 1 on NUMA node 0: packed, no device locality known");
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &c[0]), 0);
    worker_close(&f);
    /* More workers than cores: rank 4 (index 3 of 4) on core 1 of 2. */
    assert_int_equal(worker_open_shared(&f, "pack:1 core:2 pu:1", 4, 0, ranks, 4), 0);
    assert_string_equal(worker_offer(f.w)->share, "1");
    uint64_t quarter = worker_offer(f.w)->physical_mb, quarter_offer = worker_offer(f.w)->memory_mb;
    worker_close(&f);
    /* Memory is split as the cores are: a quarter of the host's each, the
     * reserve (a fifth) taken from the quarter. */
    static const int alone[] = {4};
    assert_int_equal(worker_open_shared(&f, "pack:1 core:2 pu:1", 4, 0, alone, 1), 0);
    uint64_t host = worker_offer(f.w)->physical_mb;
    worker_close(&f);
    assert_true(host > 0);
    assert_true(quarter <= host / 4 && quarter + 1 >= host / 4);
    assert_true(quarter_offer == quarter - quarter / 5);
}

/* The view of a share: its units by their host index, refused shares,
 * and no binding on a synthetic machine. */
static void test_topology_share_view(void **state) {
    (void)state;
    topology *topo;
    char err[256];
    assert_int_equal(topology_load("package:2 numa:1 core:4 pu:2", NULL, &topo, err, sizeof(err)),
                     0);
    const uint32_t share[] = {3, 4, 6};
    worker_topology *wt;
    assert_int_equal(worker_topology_create_share(topo, 0, share, 3, &wt), 0);
    assert_int_equal(worker_topology_units(wt), 3);
    assert_int_equal(worker_topology_host_units(wt), 8);
    assert_int_equal(worker_topology_unit_index(wt, 1), 4);
    assert_int_equal(worker_topology_unit_index(wt, 3), UINT32_MAX);
    assert_int_equal(worker_topology_unit_numa(wt, 0), 0); /* core 3 */
    assert_int_equal(worker_topology_unit_numa(wt, 1), 1); /* core 4 */
    char list[64];
    assert_int_equal(worker_topology_units_list(wt, NULL, 3, list, sizeof(list)), 0);
    assert_string_equal(list, "3-4,6");
    const uint32_t two[] = {0, 2};
    assert_int_equal(worker_topology_units_list(wt, two, 2, list, sizeof(list)), 0);
    assert_string_equal(list, "3,6");
    assert_int_equal(worker_topology_pu_list(wt, two, 2, list, sizeof(list)), 0);
    assert_string_equal(list, "6-7,12-13");
    uint8_t bound[3] = {9, 9, 9};
    assert_int_equal(worker_topology_bound_units(wt, bound), 0); /* not this machine */
    assert_true(bound[0] == 0 && bound[1] == 0 && bound[2] == 0);
    worker_topology_destroy(wt);
    const uint32_t unordered[] = {4, 3}, outside[] = {8};
    assert_int_equal(worker_topology_create_share(topo, 0, unordered, 2, &wt), EMBER_EINVAL);
    assert_int_equal(worker_topology_create_share(topo, 0, outside, 1, &wt), EMBER_EINVAL);
    assert_int_equal(worker_topology_create_share(topo, 0, share, 0, &wt), EMBER_EINVAL);
    /* PUs as units: 16 of them. */
    const uint32_t pus[] = {15};
    assert_int_equal(worker_topology_create_share(topo, 1, pus, 1, &wt), 0);
    assert_int_equal(worker_topology_host_units(wt), 16);
    const uint32_t first[] = {0};
    assert_int_equal(worker_topology_pu_list(wt, first, 1, list, sizeof(list)), 0);
    assert_string_equal(list, "15");
    worker_topology_destroy(wt);
    topology_destroy(topo);
}

/* The binding on the real machine: bound to its first allowed CPU, the
 * test process sees the unit holding it as its share, and a worker made
 * then offers only that unit; unbound again, nothing is flagged. */
static void test_bound_real(void **state) {
    (void)state;
    cpu_set_t saved;
    assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
    if (CPU_COUNT(&saved) < 2) {
        skip(); /* one CPU allowed: no narrower binding to make */
        return;
    }
    int cpu = 0;
    while (!CPU_ISSET(cpu, &saved))
        cpu++;
    worker_fixture f;
    char err[256] = "";
    assert_int_equal(worker_open(&f, NULL, 1, NULL, err, sizeof(err)), 0);
    uint32_t host = worker_offer(f.w)->host_units;
    worker_close(&f);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
    int rc = worker_open(&f, NULL, 1, NULL, err, sizeof(err));
    sched_setaffinity(0, sizeof(saved), &saved);
    assert_int_equal(rc, 0);
    const worker_resources *r = worker_offer(f.w);
    assert_int_equal(r->units, 1); /* the core (or PU) of that CPU */
    assert_int_equal(r->reserved_units, 0);
    assert_int_equal(r->vcores, 1);
    assert_int_equal(r->host_units, host);
    placement_choice c;
    assert_int_equal(worker_container_book(f.w, 1, 0, NULL, &c), 0);
    hwloc_bitmap_t pus = hwloc_bitmap_alloc();
    assert_int_equal(hwloc_bitmap_list_sscanf(pus, c.pus), 0);
    assert_true(hwloc_bitmap_isset(pus, (unsigned)cpu));
    hwloc_bitmap_free(pus);
    assert_int_equal(worker_container_unbook(f.w, 1, 0, &c), 0);
    assert_null(worker_unbound_why(f.w)); /* the real machine: containers are bound */
    worker_close(&f);
}

static void test_worker_hints(void **state) {
    (void)state;
    worker_fixture f;
    char err[256] = "";
    assert_int_equal(worker_open(&f, "pack:1 core:2 pu:1", 0, NULL, err, sizeof(err)), 0);
    assert_int_equal(worker_offer(f.w)->reserved_units, 0); /* a task node */
    placement_hint h;
    worker_storage_hint(f.w, f.dir, "block blk_1", &h);
    assert_int_equal(h.kind, PLACEMENT_HINT_STORAGE);
    assert_string_equal(h.subject, "block blk_1");
    /* The device of the temporary directory, or why there is none. */
    char name[64], why[256];
    if (worker_topology_block_device_of("/sys", f.dir, name, sizeof(name), why, sizeof(why)) == 0) {
        assert_string_equal(h.device, name);
    } else {
        assert_string_equal(h.device, "");
        assert_string_equal(h.note, why);
    }
    worker_storage_hint(f.w, "/elsewhere", "block blk_2", &h);
    assert_null(h.device);
    assert_string_equal(h.note, "not one of this node's data directories");
    /* The network: loopback, which no topology places. */
    worker_network_hint(f.w, "the shuffle", &h);
    assert_int_equal(h.kind, PLACEMENT_HINT_NETWORK);
    assert_string_equal(h.device, "lo");
    placement_choice c;
    assert_int_equal(worker_container_book(f.w, 1, 0, &h, &c), 0);
    assert_string_equal(c.reason, "core 0 on NUMA node 0: packed: the shuffle comes over lo, "
                                  "which hwloc does not know");
    worker_close(&f);
}

static void test_worker_refuses(void **state) {
    (void)state;
    worker_fixture f;
    char err[256] = "";
    assert_int_equal(worker_open(&f, "pack:1 core:2 pu:1", 1,
                                 "yarn.nodemanager.resource.system-reserved-memory-mb=1024", err,
                                 sizeof(err)),
                     EMBER_EINVAL);
    assert_string_equal(err, "yarn.nodemanager.resource.system-reserved-memory-mb (1024 MB) "
                             "leaves nothing of this node's 1024 MB for containers");
    assert_null(f.w);
    /* The check made at start says the same, and nothing else is wrong. */
    assert_int_equal(worker_check_config(f.cfg, f.topo, err, sizeof(err)), EMBER_EINVAL);
    assert_non_null(strstr(err, "leaves nothing of this node's 1024 MB"));
    char set_err[128];
    assert_int_equal(config_apply_define(f.cfg,
                                         "yarn.nodemanager.resource.system-reserved-memory-mb=-1",
                                         set_err, sizeof(set_err)),
                     0);
    assert_int_equal(worker_check_config(f.cfg, f.topo, err, sizeof(err)), 0);
    worker_close(&f);
    /* PUs as vcores: 4 PUs, one reserved on a core node. */
    assert_int_equal(worker_open(&f, "pack:1 core:2 pu:2", 1,
                                 "yarn.nodemanager.resource.count-logical-processors-as-cores=true",
                                 err, sizeof(err)),
                     0);
    assert_int_equal(worker_offer(f.w)->units, 4);
    assert_int_equal(worker_offer(f.w)->vcores, 3);
    assert_true(worker_offer(f.w)->pus);
    worker_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_defaults),       cmocka_unit_test(test_offer_overrides),
        cmocka_unit_test(test_offer_from_config),    cmocka_unit_test(test_claims),
        cmocka_unit_test(test_block_device_of),      cmocka_unit_test(test_block_device_of_real),
        cmocka_unit_test(test_interface_of),         cmocka_unit_test(test_worker_books_containers),
        cmocka_unit_test(test_worker_share_of_host), cmocka_unit_test(test_worker_hints),
        cmocka_unit_test(test_worker_refuses),       cmocka_unit_test(test_topology_share_view),
        cmocka_unit_test(test_bound_real),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * cpg-watch: the smallest useful corosync watcher in C, the reference khactl watch is measured against in
 * Scripts/bench.sh. It joins a CPG group and tracks the quorum service, and prints one line per event as soon
 * as the callback runs:
 *   membership RING MEMBERS...      quorum service node list notification (what khactl's `membership` is)
 *   quorum RING 0|1                 quorum notification (khactl's `quorum`)
 *   cpg GROUP MEMBERS...            CPG configuration change of the group (khactl's `cpg`)
 * RING is nodeid.seq in hex, as khactl prints ring ids. Dispatch is driven by poll() on both fds.
 * Build: cc -O2 -o cpg-watch cpg-watch.c -lcpg -lquorum
 */
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_ring(uint32_t nodeid, uint64_t seq) { printf("%" PRIx32 ".%" PRIx64, nodeid, seq); }

static void on_nodelist(quorum_handle_t handle, struct quorum_ring_id ring, uint32_t member_count,
                        const uint32_t *members, uint32_t joined_count, const uint32_t *joined,
                        uint32_t left_count, const uint32_t *left) {
    (void)handle; (void)joined_count; (void)joined; (void)left_count; (void)left;
    printf("membership ");
    print_ring(ring.nodeid, ring.seq);
    for (uint32_t i = 0; i < member_count; i++) printf(" %" PRIu32, members[i]);
    printf("\n");
    fflush(stdout);
}

static void on_quorum(quorum_handle_t handle, uint32_t quorate, struct quorum_ring_id ring,
                      uint32_t member_count, const uint32_t *members) {
    (void)handle; (void)member_count; (void)members;
    printf("quorum ");
    print_ring(ring.nodeid, ring.seq);
    printf(" %" PRIu32 "\n", quorate);
    fflush(stdout);
}

static void on_confchg(cpg_handle_t handle, const struct cpg_name *group, const struct cpg_address *members,
                       size_t member_count, const struct cpg_address *left, size_t left_count,
                       const struct cpg_address *joined, size_t joined_count) {
    (void)handle; (void)left; (void)left_count; (void)joined; (void)joined_count;
    printf("cpg %.*s", (int)group->length, group->value);
    for (size_t i = 0; i < member_count; i++) printf(" %" PRIu32 "/%" PRIu32, members[i].nodeid, members[i].pid);
    printf("\n");
    fflush(stdout);
}

static void on_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
                       void *msg, size_t msg_len) {
    (void)handle; (void)group; (void)nodeid; (void)pid; (void)msg; (void)msg_len;
}

int main(int argc, char **argv) {
    const char *group_name = argc > 1 ? argv[1] : "khactl-latency";
    quorum_handle_t quorum;
    quorum_model_v1_data_t qmodel;
    memset(&qmodel, 0, sizeof(qmodel));
    qmodel.model = QUORUM_MODEL_V1;
    qmodel.quorum_notify_fn = on_quorum;
    qmodel.nodelist_notify_fn = on_nodelist;
    uint32_t quorum_type = 0;
    cs_error_t rc = quorum_model_initialize(&quorum, QUORUM_MODEL_V1, (quorum_model_data_t *)&qmodel, &quorum_type, NULL);
    if (rc != CS_OK) { fprintf(stderr, "cpg-watch: quorum_model_initialize: %d\n", rc); return 1; }
    if ((rc = quorum_trackstart(quorum, CS_TRACK_CHANGES)) != CS_OK) {
        fprintf(stderr, "cpg-watch: quorum_trackstart: %d\n", rc);
        return 1;
    }

    cpg_handle_t cpg;
    cpg_callbacks_t callbacks = {.cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg};
    if ((rc = cpg_initialize(&cpg, &callbacks)) != CS_OK) { fprintf(stderr, "cpg-watch: cpg_initialize: %d\n", rc); return 1; }
    struct cpg_name group;
    group.length = (uint32_t)strlen(group_name);
    memcpy(group.value, group_name, group.length);
    if ((rc = cpg_join(cpg, &group)) != CS_OK) { fprintf(stderr, "cpg-watch: cpg_join: %d\n", rc); return 1; }

    struct pollfd fds[2];
    int fd;
    quorum_fd_get(quorum, &fd);
    fds[0] = (struct pollfd){.fd = fd, .events = POLLIN};
    cpg_fd_get(cpg, &fd);
    fds[1] = (struct pollfd){.fd = fd, .events = POLLIN};
    for (;;) {
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[0].revents & (POLLHUP | POLLERR) || fds[1].revents & (POLLHUP | POLLERR)) return 1;
        if (fds[0].revents & POLLIN && quorum_dispatch(quorum, CS_DISPATCH_ALL) != CS_OK) return 1;
        if (fds[1].revents & POLLIN && cpg_dispatch(cpg, CS_DISPATCH_ALL) != CS_OK) return 1;
    }
}

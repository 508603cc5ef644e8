#ifndef KHACTL_CCOROSYNC_SHIM_H
#define KHACTL_CCOROSYNC_SHIM_H

#include <sys/uio.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>
#include <corosync/cmap.h>

/* setns(2) is declared by <sched.h> only under _GNU_SOURCE, which would give this module a libc that
   differs from the one Swift's Glibc and Dispatch modules see; declare it, and CLONE_NEWNET, here. */
extern int setns(int fd, int nstype);

static inline int khactl_setns_net(int fd) {
    return setns(fd, 0x40000000 /* CLONE_NEWNET */);
}

#endif

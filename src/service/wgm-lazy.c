/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-lazy.h"

#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wgm-error.h"
#include "wgm-lazy-pool.h"

/* Datagrams read per wake-up of the thread: a flood waits its turn. */
#define MAX_DATAGRAMS_PER_DISPATCH 64
/* Wake-ups waiting for the main loop; only our own WireGuard sends
 * initiations that count, one per peer every few seconds at most. */
#define MAX_PENDING_WAKES 4096
/* Bigger than any initiation: a longer datagram is seen whole enough to be
 * counted as the wrong size (MSG_TRUNC gives its real length). */
#define RECV_BUF_LEN 256

typedef struct {
    WgmKey      public_key;
    guint32     addr; /* host byte order */
    guint8      mac1_key[WGM_LAZY_MAC1_KEY_LEN];
    gboolean    armed; /* the thread replays the next initiation to replay_to */
    WgmEndpoint replay_to;
    gboolean    wake_pending; /* queued for the main loop: not armed again meanwhile */
} LazyPeer;

typedef struct {
    WgmLazyWake wake;
    guint8      initiation[WGM_LAZY_INITIATION_LEN];
} PendingWake;

/*
 * The socket is read by a thread of its own, blocked in poll(): an
 * initiation for an armed peer is replayed from there, without waiting for
 * the main loop (which may be busy with a poll of WireGuard or D-Bus just
 * then), and the wake-up goes to the main loop afterwards.  The thread
 * touches only what @lock guards, the sockets and @wakes_source.
 */
struct _WgmLazy {
    int          fd;
    int          stop_fd; /* an eventfd: the thread ends when it is readable */
    GThread     *thread;
    GSource     *wakes_source; /* on the owner's context; the thread makes it ready */
    guint16      port;
    int          lo_ifindex;
    gboolean     bound_to_lo; /* SO_BINDTODEVICE took; else we filter by ifindex */
    int          raw4;        /* -1 without CAP_NET_RAW */
    int          raw6;
    WgmLazyPool *pool;   /* the owner's thread only */
    GHashTable  *by_key; /* WgmKey* -> LazyPeer* (owning); changed under @lock */

    WgmLazyWakeFunc wake;
    gpointer        user_data;

    GMutex      lock;
    GHashTable *by_addr; /* GUINT_TO_POINTER(addr) -> LazyPeer* */
    guint16     listen_port;
    GArray     *wakes;         /* of PendingWake, for the main loop */
    gint64      ready_at;      /* monotonic: when @wakes_source dispatches them; 0: not set */
    guint64     dropped_wakes; /* MAX_PENDING_WAKES were waiting */
    guint64     counts[WGM_LAZY_PACKET_N_VERDICTS];
};

/* The first datagram of each kind is worth a line; a flood is not. */
static void
log_first(WgmLazyVerdict verdict, guint32 dst)
{
    WgmIpAddr addr = { .family = AF_INET, .addr4 = htonl(dst) };
    char      buf[WGM_IP_STRLEN];

    g_message("lazy activity socket: dropped a datagram to %s (%s); further ones are "
              "only counted",
              wgm_ip_addr_to_string(&addr, buf),
              wgm_lazy_verdict_to_string(verdict));
}

static double
ms_since(const struct timespec *arrived)
{
    struct timespec now;

    if (!arrived)
        return -1;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)(now.tv_sec - arrived->tv_sec) * 1e3
           + (double)(now.tv_nsec - arrived->tv_nsec) / 1e6;
}

static gboolean send_replay(WgmLazy           *self,
                            const guint8      *initiation,
                            guint16            from_port,
                            const WgmEndpoint *to,
                            GError           **error);

/* Under @lock: what a datagram is, counted.  For an initiation, @pending
 * gets the peer's key and @replay_to where to replay it (if armed, which
 * it then no longer is). */
static WgmLazyVerdict
judge(WgmLazy                  *self,
      const guint8             *data,
      gsize                     len,
      const struct sockaddr_in *from,
      const struct in_pktinfo  *info,
      PendingWake              *pending,
      WgmEndpoint             **replay_to,
      gboolean                 *first)
{
    guint32        dst = info ? ntohl(info->ipi_addr.s_addr) : 0;
    LazyPeer      *peer;
    WgmLazyVerdict verdict;

    if (!info || (!self->bound_to_lo && info->ipi_ifindex != self->lo_ifindex)
        || !wgm_lazy_packet_source_ok(
            ntohl(from->sin_addr.s_addr), ntohs(from->sin_port), self->listen_port))
        verdict = WGM_LAZY_PACKET_WRONG_SOURCE;
    else if (!(peer = g_hash_table_lookup(self->by_addr, GUINT_TO_POINTER(dst))))
        verdict = WGM_LAZY_PACKET_UNKNOWN_PEER;
    else
        verdict = wgm_lazy_packet_classify(data, len, peer->mac1_key);
    *first = self->counts[verdict]++ == 0;
    if (verdict != WGM_LAZY_PACKET_INITIATION)
        return verdict;

    pending->wake.public_key = peer->public_key;
    if (peer->armed) {
        /* Once: a retransmission is the main loop's to judge. */
        peer->armed = FALSE;
        **replay_to = peer->replay_to;
    } else
        *replay_to = NULL;
    return verdict;
}

/* One datagram: what it is; if it is an initiation for a lazy peer, the
 * replay (if the peer is armed) and a wake-up for the main loop, which @due
 * says when to dispatch.  Nothing is logged or sent under @lock. */
static void
take_datagram(WgmLazy                  *self,
              const guint8             *data,
              gsize                     len,
              const struct sockaddr_in *from,
              const struct in_pktinfo  *info,
              const struct timespec    *arrived,
              gint64                   *due)
{
    PendingWake    pending = { 0 };
    WgmEndpoint    target;
    WgmEndpoint   *replay_to = &target;
    WgmLazyVerdict verdict;
    gboolean       first, queued = FALSE, first_drop = FALSE;
    gint64         at;

    g_mutex_lock(&self->lock);
    verdict = judge(self, data, len, from, info, &pending, &replay_to, &first);
    g_mutex_unlock(&self->lock);
    if (verdict != WGM_LAZY_PACKET_INITIATION) {
        if (first)
            log_first(verdict, info ? ntohl(info->ipi_addr.s_addr) : 0);
        return;
    }

    memcpy(pending.initiation, data, WGM_LAZY_INITIATION_LEN);
    if (replay_to) {
        g_autoptr(GError) error = NULL;

        if (send_replay(self, data, ntohs(from->sin_port), replay_to, &error)) {
            pending.wake.replayed    = TRUE;
            pending.wake.replayed_to = *replay_to;
        } else {
            /* The main loop tries again, and says so if it fails too. */
            g_debug("lazy activity socket: %s", error->message);
        }
    }
    pending.wake.since_arrival_ms = ms_since(arrived);

    g_mutex_lock(&self->lock);
    if (self->wakes->len < MAX_PENDING_WAKES) {
        LazyPeer *peer = g_hash_table_lookup(self->by_key, &pending.wake.public_key);

        g_array_append_val(self->wakes, pending);
        if (peer)
            peer->wake_pending = TRUE;
        queued = TRUE;
    } else
        first_drop = self->dropped_wakes++ == 0;
    g_mutex_unlock(&self->lock);
    if (first_drop)
        g_warning("lazy activity socket: %u wake-ups wait for the main loop; further ones are "
                  "dropped (a peer woken meanwhile still is, by its replay)",
                  MAX_PENDING_WAKES);
    if (!queued)
        return;

    /* A replayed peer's handshake is under way: the main loop hears of it
     * once it is done (WGM_LAZY_WAKE_DELAY_MS).  Any other waits for it. */
    at = g_get_monotonic_time();
    if (pending.wake.replayed)
        at += WGM_LAZY_WAKE_DELAY_MS * 1000;
    if (*due == 0 || at < *due)
        *due = at;
}

/* The thread: read what is there, at most MAX_DATAGRAMS_PER_DISPATCH at a
 * time, into one stack buffer, and have the main loop called for what
 * woke. */
static void
read_datagrams(WgmLazy *self)
{
    gint64 due = 0;

    for (guint n = 0; n < MAX_DATAGRAMS_PER_DISPATCH; n++) {
        guint8 buf[RECV_BUF_LEN];
        union {
            struct cmsghdr hdr;
            guint8
                space[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(struct timespec))];
        } control;
        struct sockaddr_in from = { 0 };
        struct iovec       iov  = { buf, sizeof(buf) };
        struct msghdr      msg  = {
                  .msg_name       = &from,
                  .msg_namelen    = sizeof(from),
                  .msg_iov        = &iov,
                  .msg_iovlen     = 1,
                  .msg_control    = &control,
                  .msg_controllen = sizeof(control),
        };
        const struct in_pktinfo *info    = NULL;
        const struct timespec   *arrived = NULL;
        ssize_t                  len;

        len = recvmsg(self->fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
        if (len < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                g_debug("lazy activity socket: %s", g_strerror(errno));
            break;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO
                && c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo)))
                info = (const struct in_pktinfo *)CMSG_DATA(c);
            else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS
                     && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec)))
                arrived = (const struct timespec *)CMSG_DATA(c);
        }
        /* A truncated datagram is only ever the wrong size. */
        take_datagram(self, buf, (gsize)len, &from, info, arrived, &due);
    }
    if (due == 0)
        return;
    g_mutex_lock(&self->lock);
    if (self->ready_at == 0 || due < self->ready_at) {
        self->ready_at = due;
        /* Thread-safe, and it wakes the context up: GCancellable's source is
         * made ready from other threads the same way. */
        g_source_set_ready_time(self->wakes_source, due);
    }
    g_mutex_unlock(&self->lock);
}

static gpointer
thread_func(gpointer user_data)
{
    WgmLazy      *self   = user_data;
    struct pollfd fds[2] = { { self->fd, POLLIN, 0 }, { self->stop_fd, POLLIN, 0 } };

    for (;;) {
        if (poll(fds, G_N_ELEMENTS(fds), -1) < 0) {
            if (errno == EINTR)
                continue;
            g_warning("lazy activity socket: poll: %s; lazy peers wake no more", g_strerror(errno));
            break;
        }
        if (fds[1].revents)
            break;
        if (fds[0].revents & POLLNVAL) {
            g_warning("lazy activity socket: closed under the thread; lazy peers wake no more");
            break;
        }
        /* An error (POLLERR) is cleared by the next recvmsg(). */
        if (fds[0].revents)
            read_datagrams(self);
    }
    return NULL;
}

/* The main loop: the wake-ups the thread queued. */
static gboolean
wakes_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    WgmLazy *self           = user_data;
    g_autoptr(GArray) wakes = g_array_new(FALSE, FALSE, sizeof(PendingWake));

    g_autofree WgmLazyWake *batch = NULL;

    g_mutex_lock(&self->lock);
    /* Swapped out: the thread goes on queueing while these are handled. */
    {
        GArray *tmp = self->wakes;

        self->wakes = wakes;
        wakes       = tmp;
    }
    self->ready_at = 0;
    g_source_set_ready_time(source, -1);
    for (guint i = 0; i < wakes->len; i++) {
        LazyPeer *peer = g_hash_table_lookup(self->by_key,
                                             &g_array_index(wakes, PendingWake, i).wake.public_key);

        if (peer)
            peer->wake_pending = FALSE;
    }
    g_mutex_unlock(&self->lock);

    batch = g_new(WgmLazyWake, wakes->len);
    for (guint i = 0; i < wakes->len; i++) {
        PendingWake *pending = &g_array_index(wakes, PendingWake, i);

        batch[i]            = pending->wake;
        batch[i].initiation = pending->initiation;
    }
    if (wakes->len > 0)
        self->wake(batch, wakes->len, self->user_data);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs wakes_funcs = { .dispatch = wakes_dispatch };

/* A raw UDP socket that only sends: without the filter the kernel would
 * queue a copy of every UDP datagram the host receives to it. */
static int
open_raw(int family)
{
    struct sock_filter drop_all[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
    struct sock_fprog  prog       = { G_N_ELEMENTS(drop_all), drop_all };
    int                fd;

    fd = socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
        close(fd);
        return -1;
    }
    if (family == AF_INET6) {
        int offset = 6; /* the kernel fills in the UDP checksum (mandatory in IPv6) */

        if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof(offset)) < 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static gboolean
open_socket(WgmLazy *self, GError **error)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
    socklen_t          alen = sizeof(addr);
    int                one  = 1;

    self->lo_ifindex = (int)if_nametoindex("lo");
    self->fd         = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (self->fd < 0)
        goto fail;
    /* Without the privilege to bind to "lo", datagrams that came in on
     * another interface are dropped by their IP_PKTINFO instead. */
    self->bound_to_lo = setsockopt(self->fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) == 0;
    if (!self->bound_to_lo)
        g_debug("lazy activity socket: SO_BINDTODEVICE lo: %s; filtering by interface instead",
                g_strerror(errno));
    /* When each datagram arrived, for the debug log of wake-ups. */
    setsockopt(self->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    if (setsockopt(self->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0
        || bind(self->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0
        || getsockname(self->fd, (struct sockaddr *)&addr, &alen) < 0)
        goto fail;
    self->port = ntohs(addr.sin_port);
    return TRUE;

fail:
    g_set_error(error,
                WGM_ERROR,
                WGM_ERROR_FAILED,
                "lazy connections: cannot open the activity socket: %s",
                g_strerror(errno));
    return FALSE;
}

WgmLazy *
wgm_lazy_new(WgmLazyWakeFunc wake, gpointer user_data, GError **error)
{
    g_autoptr(WgmLazy) self = g_new0(WgmLazy, 1);

    self->fd        = -1;
    self->stop_fd   = -1;
    self->raw4      = -1;
    self->raw6      = -1;
    self->wake      = wake;
    self->user_data = user_data;
    self->pool      = wgm_lazy_pool_new(WGM_LAZY_POOL_FIRST, WGM_LAZY_POOL_LAST);
    self->by_addr   = g_hash_table_new(NULL, NULL);
    self->by_key    = g_hash_table_new_full(wgm_key_hash, wgm_key_equal_func, NULL, g_free);
    self->wakes     = g_array_new(FALSE, FALSE, sizeof(PendingWake));
    g_mutex_init(&self->lock);
    if (!open_socket(self, error))
        return NULL;
    self->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (self->stop_fd < 0) {
        g_set_error(
            error, WGM_ERROR, WGM_ERROR_FAILED, "lazy connections: eventfd: %s", g_strerror(errno));
        return NULL;
    }

    self->raw4 = open_raw(AF_INET);
    if (self->raw4 < 0)
        g_message("lazy connections: no raw socket (%s): a lazy peer is woken by re-creating "
                  "it, and the packet that woke it is lost",
                  g_strerror(errno));
    self->raw6 = open_raw(AF_INET6);
    if (self->raw6 < 0 && self->raw4 >= 0)
        g_message("lazy connections: no IPv6 raw socket (%s): a lazy peer with an IPv6 "
                  "endpoint is woken by re-creating it, and the packet that woke it is lost",
                  g_strerror(errno));

    self->wakes_source = g_source_new(&wakes_funcs, sizeof(GSource));
    g_source_set_callback(self->wakes_source, NULL, self, NULL);
    g_source_set_static_name(self->wakes_source, "wgm-lazy-wakes");
    /* A wake-up is on the path of a packet: before anything else that is due. */
    g_source_set_priority(self->wakes_source, G_PRIORITY_HIGH);
    g_source_attach(self->wakes_source, g_main_context_get_thread_default());

    self->thread = g_thread_try_new("wgm-lazy", thread_func, self, error);
    if (!self->thread) {
        g_prefix_error(error, "lazy connections: ");
        return NULL;
    }
    g_debug("lazy activity socket on port %u", self->port);
    return g_steal_pointer(&self);
}

void
wgm_lazy_free(WgmLazy *self)
{
    if (!self)
        return;
    if (self->thread) {
        guint64 one = 1;

        if (write(self->stop_fd, &one, sizeof(one)) != sizeof(one))
            g_error("lazy activity socket: cannot stop its thread: %s", g_strerror(errno));
        g_thread_join(self->thread);
    }
    if (self->wakes_source) {
        g_source_destroy(self->wakes_source);
        g_source_unref(self->wakes_source);
    }
    if (self->stop_fd >= 0)
        close(self->stop_fd);
    if (self->fd >= 0)
        close(self->fd);
    if (self->raw4 >= 0)
        close(self->raw4);
    if (self->raw6 >= 0)
        close(self->raw6);
    g_clear_pointer(&self->by_addr, g_hash_table_unref);
    g_clear_pointer(&self->by_key, g_hash_table_unref);
    g_clear_pointer(&self->pool, wgm_lazy_pool_free);
    g_clear_pointer(&self->wakes, g_array_unref);
    g_mutex_clear(&self->lock);
    g_free(self);
}

guint16
wgm_lazy_get_port(WgmLazy *self)
{
    return self->port;
}

void
wgm_lazy_set_listen_port(WgmLazy *self, guint16 listen_port)
{
    g_mutex_lock(&self->lock);
    self->listen_port = listen_port;
    g_mutex_unlock(&self->lock);
}

static void
fill_endpoint(WgmLazy *self, const LazyPeer *peer, WgmEndpoint *endpoint)
{
    *endpoint = (WgmEndpoint){
        .addr = { .family = AF_INET, .addr4 = htonl(peer->addr) },
        .port = self->port,
    };
}

gboolean
wgm_lazy_add_peer(WgmLazy      *self,
                  const WgmKey *public_key,
                  WgmEndpoint  *lazy_endpoint,
                  GError      **error)
{
    LazyPeer *peer = g_hash_table_lookup(self->by_key, public_key);

    if (!peer) {
        guint32 addr;

        if (!wgm_lazy_pool_alloc(self->pool, &addr, error))
            return FALSE;
        peer             = g_new0(LazyPeer, 1);
        peer->public_key = *public_key;
        peer->addr       = addr;
        wgm_lazy_mac1_key(public_key, peer->mac1_key);
        g_mutex_lock(&self->lock);
        g_hash_table_insert(self->by_key, &peer->public_key, peer);
        g_hash_table_insert(self->by_addr, GUINT_TO_POINTER(addr), peer);
        g_mutex_unlock(&self->lock);
    }
    fill_endpoint(self, peer, lazy_endpoint);
    return TRUE;
}

void
wgm_lazy_remove_peer(WgmLazy *self, const WgmKey *public_key)
{
    LazyPeer *peer = g_hash_table_lookup(self->by_key, public_key);

    if (!peer)
        return;
    wgm_lazy_pool_release(self->pool, peer->addr);
    g_mutex_lock(&self->lock);
    /* Not woken later, should the key come back. */
    for (guint i = self->wakes->len; i-- > 0;) {
        if (wgm_key_equal(&g_array_index(self->wakes, PendingWake, i).wake.public_key, public_key))
            g_array_remove_index(self->wakes, i);
    }
    g_hash_table_remove(self->by_addr, GUINT_TO_POINTER(peer->addr));
    g_hash_table_remove(self->by_key, public_key);
    g_mutex_unlock(&self->lock);
}

void
wgm_lazy_arm(WgmLazy *self, const WgmKey *public_key, const WgmEndpoint *replay_to)
{
    LazyPeer *peer = g_hash_table_lookup(self->by_key, public_key);

    if (!peer)
        return;
    if (replay_to && !wgm_lazy_can_replay(self, replay_to->addr.family))
        replay_to = NULL;
    g_mutex_lock(&self->lock);
    /* A peer the thread has just woken stays disarmed until the main loop
     * hears of it: another initiation meanwhile is its to judge. */
    if (!replay_to || !peer->wake_pending) {
        peer->armed = replay_to != NULL;
        if (replay_to)
            peer->replay_to = *replay_to;
    }
    g_mutex_unlock(&self->lock);
}

gboolean
wgm_lazy_reserve(WgmLazy *self, const WgmIpAddr *addr, GError **error)
{
    guint32 host;

    if (addr->family != AF_INET)
        return TRUE;
    host = ntohl(addr->addr4);
    if (!wgm_lazy_pool_contains(self->pool, host))
        return TRUE;
    /* Two peers behind one address share the reservation (by_addr changes
     * only on this thread: no lock needed to read it here). */
    if (!g_hash_table_contains(self->by_addr, GUINT_TO_POINTER(host))) {
        wgm_lazy_pool_reserve(self->pool, host, NULL);
        return TRUE;
    }
    return wgm_lazy_pool_reserve(self->pool, host, error);
}

gboolean
wgm_lazy_is_lazy_endpoint(WgmLazy *self, const WgmEndpoint *endpoint)
{
    return endpoint->addr.family == AF_INET && endpoint->port == self->port
           && g_hash_table_contains(self->by_addr, GUINT_TO_POINTER(ntohl(endpoint->addr.addr4)));
}

gboolean
wgm_lazy_can_replay(WgmLazy *self, int family)
{
    return (family == AF_INET6 ? self->raw6 : self->raw4) >= 0;
}

static gboolean
send_replay(WgmLazy           *self,
            const guint8      *initiation,
            guint16            from_port,
            const WgmEndpoint *to,
            GError           **error)
{
    guint8 packet[8 + WGM_LAZY_INITIATION_LEN];
    union {
        struct sockaddr_in  v4;
        struct sockaddr_in6 v6;
    } dst = { 0 };
    socklen_t dlen;
    int       fd = to->addr.family == AF_INET6 ? self->raw6 : self->raw4;
    char      buf[WGM_IP_STRLEN];

    if (fd < 0) {
        g_set_error(error, WGM_ERROR, WGM_ERROR_FAILED, "no raw socket to replay with");
        return FALSE;
    }
    /* The UDP header; the checksum is left 0: "none" in IPv4, and filled
     * in by the kernel in IPv6 (IPV6_CHECKSUM). */
    packet[0] = from_port >> 8;
    packet[1] = from_port & 0xff;
    packet[2] = to->port >> 8;
    packet[3] = to->port & 0xff;
    packet[4] = sizeof(packet) >> 8;
    packet[5] = sizeof(packet) & 0xff;
    packet[6] = 0;
    packet[7] = 0;
    memcpy(packet + 8, initiation, WGM_LAZY_INITIATION_LEN);

    if (to->addr.family == AF_INET6) {
        dst.v6.sin6_family = AF_INET6;
        memcpy(&dst.v6.sin6_addr, to->addr.addr, 16);
        dlen = sizeof(dst.v6);
    } else {
        dst.v4.sin_family      = AF_INET;
        dst.v4.sin_addr.s_addr = to->addr.addr4;
        dlen                   = sizeof(dst.v4);
    }
    if (sendto(fd, packet, sizeof(packet), 0, (struct sockaddr *)&dst, dlen) < 0) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_FAILED,
                    "replaying the handshake initiation to %s: %s",
                    wgm_endpoint_to_string(to, buf),
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

gboolean
wgm_lazy_replay(WgmLazy           *self,
                const guint8      *initiation,
                guint16            from_port,
                const WgmEndpoint *to,
                GError           **error)
{
    return send_replay(self, initiation, from_port, to, error);
}

void
wgm_lazy_get_counts(WgmLazy *self, guint64 counts[WGM_LAZY_PACKET_N_VERDICTS])
{
    g_mutex_lock(&self->lock);
    memcpy(counts, self->counts, sizeof(self->counts));
    g_mutex_unlock(&self->lock);
}

guint
wgm_lazy_get_n_peers(WgmLazy *self)
{
    return g_hash_table_size(self->by_key);
}

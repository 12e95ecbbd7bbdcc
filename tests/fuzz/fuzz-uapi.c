/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzzes WgmUapiReader, the incremental reader of wireguard-go's UAPI replies.
 *
 * Input: the bytes wireguard-go might send on its socket, e.g. the recorded
 * replies in tests/unit/data/uapi-*.txt.  They are read as a stream of
 * replies (after DONE, a new reader takes the rest), both as get and as set
 * replies, once in one piece and once in chunks of sizes drawn from a hash
 * of the input.  Whatever the input, the reader must not crash, leak or hit
 * a g_return_if_fail(), and where a chunk ends must not change the outcome.
 */
#include <string.h>

#include "wgm-error.h"
#include "wgm-uapi.h"

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

typedef struct {
    WgmUapiReaderStatus status;   /* of the last reply */
    gsize               consumed; /* by complete replies (and by errno != 0) */
    guint               replies;
    GQuark              domain;
    int                 code;
    char               *message;
    guint64             digest; /* of everything the stats said */
} Outcome;

static guint64
mix(guint64 h, guint64 v)
{
    return (h ^ v) * G_GUINT64_CONSTANT(0x100000001b3);
}

static guint64
digest_stats(guint64 h, const WgmDeviceStats *stats)
{
    h = mix(h, (guint64)(gint64)stats->listen_port);
    for (guint i = 0; i < stats->peers->len; i++) {
        const WgmPeerStats *peer = &g_array_index(stats->peers, WgmPeerStats, i);
        char                buf[WGM_IP_STRLEN];

        g_assert(peer->last_handshake_usec >= 0);
        for (guint j = 0; j < WGM_KEY_LEN; j++)
            h = mix(h, peer->public_key.bytes[j]);
        if (peer->has_endpoint) {
            g_assert(peer->endpoint.addr.family == AF_INET
                     || peer->endpoint.addr.family == AF_INET6);
            wgm_endpoint_to_string(&peer->endpoint, buf);
            for (const char *p = buf; *p; p++)
                h = mix(h, (guint8)*p);
        }
        h = mix(h, (guint64)peer->last_handshake_usec);
        h = mix(h, peer->rx_bytes);
        h = mix(h, peer->tx_bytes);
        h = mix(h, peer->persistent_keepalive);
        h = mix(h, peer->n_allowed_ips);
    }
    return h;
}

/* xorshift32; @state 0 means "one piece". */
static gsize
next_chunk(guint32 *state, gsize left)
{
    if (*state == 0)
        return left;
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    /* Mostly tiny chunks, sometimes large ones. */
    return MIN(left, (*state & 1) ? 1 + (*state >> 1) % 7 : 1 + (*state >> 1) % 5000);
}

static void
run(const guint8 *data, size_t size, gboolean want_stats, guint32 seed, Outcome *out)
{
    g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(want_stats);
    gsize   pos                     = 0;
    gsize   start                   = 0; /* of the current reply */
    guint32 state                   = seed;

    memset(out, 0, sizeof(*out));
    out->status = WGM_UAPI_READER_MORE;
    out->digest = G_GUINT64_CONSTANT(0xcbf29ce484222325);

    while (pos < size) {
        gsize               n        = next_chunk(&state, size - pos);
        gsize               consumed = 0;
        GError             *error    = NULL;
        WgmUapiReaderStatus status;

        status = wgm_uapi_reader_feed(reader, (const char *)data + pos, n, &consumed, &error);
        g_assert_cmpuint(consumed, <=, n);
        pos += consumed;
        out->status = status;

        if (status == WGM_UAPI_READER_MORE) {
            g_assert_no_error(error);
            g_assert_cmpuint(consumed, ==, n);
            continue;
        }
        if (status == WGM_UAPI_READER_ERROR) {
            g_assert(error);
            g_assert(error->domain == WGM_ERROR);
            g_assert(error->code == WGM_ERROR_BACKEND || error->code == WGM_ERROR_PROTOCOL);
            out->domain  = error->domain;
            out->code    = error->code;
            out->message = g_strdup(error->message);
            /* errno != 0 ends a complete reply: the stream is in step. */
            if (error->code == WGM_ERROR_BACKEND)
                out->consumed = pos;
            g_error_free(error);
            return;
        }

        g_assert_no_error(error);
        g_assert_cmpuint(pos, >, start);
        out->consumed = start = pos;
        out->replies++;
        {
            g_autoptr(WgmDeviceStats) stats = wgm_uapi_reader_steal_stats(reader);

            g_assert(!stats == !want_stats);
            if (stats)
                out->digest = digest_stats(out->digest, stats);
        }
        /* No pipelining in UAPI, but the reader must not care. */
        wgm_uapi_reader_free(reader);
        reader = wgm_uapi_reader_new(want_stats);
    }
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    guint32 seed = 2166136261u;

    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 16777619u;
    seed |= 1;

    for (int want_stats = 0; want_stats <= 1; want_stats++) {
        Outcome whole, chunked;

        run(data, size, want_stats, 0, &whole);
        run(data, size, want_stats, seed, &chunked);

        g_assert_cmpint(whole.status, ==, chunked.status);
        g_assert_cmpuint(whole.replies, ==, chunked.replies);
        g_assert_cmpuint(whole.consumed, ==, chunked.consumed);
        g_assert_cmpstr(whole.message, ==, chunked.message);
        g_assert(whole.digest == chunked.digest);
        g_free(whole.message);
        g_free(chunked.message);
    }
    return 0;
}

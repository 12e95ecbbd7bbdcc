/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-uapi.h"

#include <errno.h>
#include <string.h>

#include "wgm-error.h"

/* ---- building "set" ----------------------------------------------------- */

static void
append_key(GString *str, const char *name, const WgmKey *key)
{
    char hex[WGM_KEY_HEX_LEN + 1];

    g_string_append(str, name);
    g_string_append_c(str, '=');
    wgm_key_to_hex(key, hex);
    g_string_append_len(str, hex, WGM_KEY_HEX_LEN);
    g_string_append_c(str, '\n');
    wgm_memzero(hex, sizeof(hex));
}

static void
append_peer(GString *str, const WgmPeerUpdate *peer)
{
    char buf[WGM_IP_STRLEN];

    append_key(str, "public_key", &peer->public_key);
    if (peer->remove) {
        g_string_append(str, "remove=true\n");
        return;
    }
    if (peer->has_preshared_key)
        append_key(str, "preshared_key", &peer->preshared_key);
    if (peer->has_endpoint)
        g_string_append_printf(str, "endpoint=%s\n", wgm_endpoint_to_string(&peer->endpoint, buf));
    if (peer->replace_allowed_ips)
        g_string_append(str, "replace_allowed_ips=true\n");
    for (guint i = 0; peer->allowed_ips && i < peer->allowed_ips->len; i++) {
        const WgmIpPrefix *prefix = &g_array_index(peer->allowed_ips, WgmIpPrefix, i);

        g_string_append_printf(str, "allowed_ip=%s\n", wgm_ip_prefix_to_string(prefix, buf));
    }
    if (peer->kick) {
        /*
         * wireguard-go sends a keepalive (so, without a session, a handshake
         * initiation) when a peer block that turned persistent keepalive
         * from 0 to non-zero is closed on an up device; the block is closed
         * by the next public_key line or the end of the request.  Measured
         * on 0.0.20220316: "=1" alone does nothing when keepalive was
         * already on, hence "=0" first.  The endpoint and preshared key are
         * in this first block so the initiation uses them.  A second block
         * for the same peer then leaves the configured interval in place;
         * its old value is 1, so it sends nothing more.  Like any initiation
         * this is rate-limited to one per REKEY_TIMEOUT (5 s) per peer.
         */
        g_string_append(str, "persistent_keepalive_interval=0\n");
        g_string_append(str, "persistent_keepalive_interval=1\n");
        append_key(str, "public_key", &peer->public_key);
    }
    /* Always written, even when unchanged: wireguard-go keeps the "turned
     * on" flag of the previous block until a block sets the interval. */
    g_string_append_printf(str, "persistent_keepalive_interval=%u\n", peer->persistent_keepalive);
}

/* Longest lines of a request, with their '\n'. */
#define KEY_LINE_MAX    (sizeof("preshared_key=") - 1 + WGM_KEY_HEX_LEN + 1)
#define ADDR_LINE_MAX   (sizeof("allowed_ip=") - 1 + WGM_IP_STRLEN + 1)
#define KEEPALIVE_LINE  (sizeof("persistent_keepalive_interval=65535\n") - 1)
#define FIXED_LINES_MAX 64 /* "set=1", "listen_port=N", "replace_*=true", "remove=true" */

/* An upper bound of the request's length: the buffer is allocated once and
 * never grows, since a realloc would leave a copy of the keys in freed
 * memory that nothing can wipe. */
static gsize
request_len_max(const WgmDeviceUpdate *update)
{
    gsize len = 2 * FIXED_LINES_MAX + KEY_LINE_MAX + 1;

    for (guint i = 0; update->peers && i < update->peers->len; i++) {
        const WgmPeerUpdate *peer = update->peers->pdata[i];

        /* public_key twice (kick), preshared_key, endpoint, replace line,
         * three keepalive lines (kick), the allowed IPs. */
        len += 3 * KEY_LINE_MAX + ADDR_LINE_MAX + FIXED_LINES_MAX + 3 * KEEPALIVE_LINE;
        if (peer->allowed_ips)
            len += peer->allowed_ips->len * ADDR_LINE_MAX;
    }
    return len;
}

GString *
wgm_uapi_build_set(const WgmDeviceUpdate *update)
{
    GString *str;
    gsize    allocated;

    g_return_val_if_fail(update, NULL);

    str       = g_string_sized_new(request_len_max(update));
    allocated = str->allocated_len;
    g_string_append(str, "set=1\n");
    if (update->has_private_key)
        append_key(str, "private_key", &update->private_key);
    if (update->listen_port >= 0)
        g_string_append_printf(str, "listen_port=%d\n", (int)update->listen_port);
    if (update->replace_peers)
        g_string_append(str, "replace_peers=true\n");
    for (guint i = 0; update->peers && i < update->peers->len; i++)
        append_peer(str, update->peers->pdata[i]);
    g_string_append_c(str, '\n');
    /* The bound above is wrong if this fires: a key may have been copied. */
    g_warn_if_fail(str->allocated_len == allocated);
    return str;
}

/* ---- reading replies ---------------------------------------------------- */

/* wireguard-go's longest line is ~80 bytes (an IPv6 endpoint with a zone);
 * anything near this is not a reply but a desynchronised stream. */
#define MAX_LINE 4096

typedef enum {
    READER_READING,
    READER_DONE,
    READER_FAILED,
} ReaderState;

struct _WgmUapiReader {
    ReaderState     state;
    gboolean        want_stats;
    GString        *line;      /* current line; never holds a secret value */
    gsize           line_len;  /* bytes of the current line so far, skipped ones too */
    gsize           key_len;   /* valid when has_key: line->str[key_len] == '=' */
    gboolean        has_key;   /* '=' seen on the current line */
    gboolean        in_secret; /* skipping the value of a secret line */
    guint           line_no;   /* 1-based number of the current line */
    gboolean        has_errno;
    gint64          errno_value;
    WgmDeviceStats *stats;
    WgmPeerStats   *peer; /* last element of stats->peers, NULL before the first */
    gint64          hs_sec;
    gint64          hs_nsec;
};

WgmUapiReader *
wgm_uapi_reader_new(gboolean want_stats)
{
    WgmUapiReader *reader = g_new0(WgmUapiReader, 1);

    reader->want_stats = want_stats;
    reader->line       = g_string_sized_new(128);
    reader->line_no    = 1;
    if (want_stats)
        reader->stats = wgm_device_stats_new();
    return reader;
}

void
wgm_uapi_reader_free(WgmUapiReader *reader)
{
    if (!reader)
        return;
    g_string_free(reader->line, TRUE);
    wgm_device_stats_free(reader->stats);
    g_free(reader);
}

WgmDeviceStats *
wgm_uapi_reader_steal_stats(WgmUapiReader *reader)
{
    g_return_val_if_fail(reader, NULL);
    g_return_val_if_fail(reader->state == READER_DONE, NULL);

    reader->peer = NULL;
    return g_steal_pointer(&reader->stats);
}

static gboolean
is_secret_key(const char *key, gsize len)
{
    return (len == 11 && memcmp(key, "private_key", 11) == 0)
           || (len == 13 && memcmp(key, "preshared_key", 13) == 0);
}

static const char *
errno_name(gint64 value)
{
    static const struct {
        int         code;
        const char *name;
    } names[] = {
        { EINVAL, "EINVAL" },
        { EADDRINUSE, "EADDRINUSE" },
        { EIO, "EIO" },
        { EPROTO, "EPROTO" },
        { ENOANO, "ENOANO" },
        { ENOMEM, "ENOMEM" },
        { EPERM, "EPERM" },
        { ENOENT, "ENOENT" },
        { EEXIST, "EEXIST" },
        { ENODEV, "ENODEV" },
        { EBUSY, "EBUSY" },
        { EAFNOSUPPORT, "EAFNOSUPPORT" },
        { ENOSPC, "ENOSPC" },
        { ENOTSUP, "ENOTSUP" },
        { EADDRNOTAVAIL, "EADDRNOTAVAIL" },
        { ENOBUFS, "ENOBUFS" },
        { EACCES, "EACCES" },
        { EMSGSIZE, "EMSGSIZE" },
        { ERANGE, "ERANGE" },
        { EAGAIN, "EAGAIN" },
        { ENETDOWN, "ENETDOWN" },
        { ENOTCONN, "ENOTCONN" },
        { EHOSTUNREACH, "EHOSTUNREACH" },
    };
    /* wireguard-go writes -errno (ipc.IpcErrorInvalid = -EINVAL), the
     * kernel-style C implementations write errno: accept both. */
    gint64 code = value < 0 ? -value : value;

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].code == code)
            return names[i].name;
    }
    return NULL;
}

static gboolean fail(WgmUapiReader *reader, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static gboolean
fail(WgmUapiReader *reader, GError **error, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list          ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    reader->state = READER_FAILED;
    g_set_error(error,
                WGM_ERROR,
                WGM_ERROR_PROTOCOL,
                "Malformed reply from wireguard-go, line %u: %s",
                reader->line_no,
                msg);
    return FALSE;
}

static gboolean
parse_number(WgmUapiReader *reader,
             const char    *key,
             const char    *value,
             guint64        max,
             guint64       *out,
             GError       **error)
{
    g_autofree char *quoted = NULL;

    /* g_ascii_string_to_unsigned() rejects signs, spaces and trailing junk. */
    if (g_ascii_string_to_unsigned(value, 10, 0, max, out, NULL))
        return TRUE;
    quoted = wgm_error_quote_value(value);
    return fail(reader,
                error,
                "%s: expected a number from 0 to %" G_GUINT64_FORMAT ", got \"%s\"",
                key,
                max,
                quoted);
}

static gboolean
parse_endpoint(WgmUapiReader *reader, const char *value, WgmEndpoint *out, GError **error)
{
    g_autofree char *copy   = NULL;
    g_autofree char *quoted = NULL;
    char            *zone;

    if (wgm_endpoint_parse(value, out, NULL))
        return TRUE;
    /* "[fe80::1%eth0]:51820": a link-local endpoint carries its zone, which
     * WgmEndpoint has no room for; the address and port are still right. */
    copy = g_strdup(value);
    zone = strchr(copy, '%');
    if (copy[0] == '[' && zone) {
        char *close = strchr(zone, ']');

        if (close) {
            memmove(zone, close, strlen(close) + 1);
            if (wgm_endpoint_parse(copy, out, NULL))
                return TRUE;
        }
    }
    quoted = wgm_error_quote_value(value);
    return fail(reader, error, "endpoint: expected an address and port, got \"%s\"", quoted);
}

static void
update_handshake(WgmUapiReader *reader)
{
    reader->peer->last_handshake_usec = reader->hs_sec * G_USEC_PER_SEC + reader->hs_nsec / 1000;
}

static gboolean
handle_peer_line(WgmUapiReader *reader, const char *key, const char *value, GError **error)
{
    WgmPeerStats *peer = reader->peer;
    guint64       num;

    if (g_str_equal(key, "endpoint")) {
        if (!parse_endpoint(reader, value, &peer->endpoint, error))
            return FALSE;
        peer->has_endpoint = TRUE;
    } else if (g_str_equal(key, "last_handshake_time_sec")) {
        /* Bounded so that the microsecond sum cannot overflow. */
        if (!parse_number(reader, key, value, G_MAXINT64 / G_USEC_PER_SEC - 1, &num, error))
            return FALSE;
        reader->hs_sec = (gint64)num;
        update_handshake(reader);
    } else if (g_str_equal(key, "last_handshake_time_nsec")) {
        if (!parse_number(reader, key, value, G_USEC_PER_SEC * 1000 - 1, &num, error))
            return FALSE;
        reader->hs_nsec = (gint64)num;
        update_handshake(reader);
    } else if (g_str_equal(key, "rx_bytes")) {
        if (!parse_number(reader, key, value, G_MAXUINT64, &peer->rx_bytes, error))
            return FALSE;
    } else if (g_str_equal(key, "tx_bytes")) {
        if (!parse_number(reader, key, value, G_MAXUINT64, &peer->tx_bytes, error))
            return FALSE;
    } else if (g_str_equal(key, "persistent_keepalive_interval")) {
        if (!parse_number(reader, key, value, G_MAXUINT16, &num, error))
            return FALSE;
        peer->persistent_keepalive = (guint16)num;
    } else if (g_str_equal(key, "allowed_ip")) {
        if (!value[0])
            return fail(reader, error, "allowed_ip: empty value");
        peer->n_allowed_ips++;
    }
    /* protocol_version and anything newer: ignored. */
    return TRUE;
}

static gboolean
handle_line(WgmUapiReader *reader, const char *key, const char *value, GError **error)
{
    guint64 num;

    if (g_str_equal(key, "errno")) {
        gboolean neg = value[0] == '-';

        if (reader->has_errno)
            return fail(reader, error, "errno: given twice");
        /* 2^31: errno values are ints, and this keeps -value in range. */
        if (!parse_number(reader, key, value + neg, G_MAXINT32, &num, error))
            return FALSE;
        reader->has_errno   = TRUE;
        reader->errno_value = neg ? -(gint64)num : (gint64)num;
        return TRUE;
    }
    if (!reader->want_stats)
        return TRUE; /* a set reply is only errno; newer keys are ignored */

    if (g_str_equal(key, "public_key")) {
        WgmPeerStats peer = { 0 };

        if (!wgm_key_from_hex(value, strlen(value), &peer.public_key))
            return fail(reader, error, "public_key: expected 64 hexadecimal digits");
        g_array_append_val(reader->stats->peers, peer);
        reader->peer =
            &g_array_index(reader->stats->peers, WgmPeerStats, reader->stats->peers->len - 1);
        reader->hs_sec  = 0;
        reader->hs_nsec = 0;
        return TRUE;
    }
    if (reader->peer)
        return handle_peer_line(reader, key, value, error);

    if (g_str_equal(key, "listen_port")) {
        if (!parse_number(reader, key, value, G_MAXUINT16, &num, error))
            return FALSE;
        reader->stats->listen_port = (gint32)num;
    } else if (g_str_equal(key, "fwmark")) {
        if (!parse_number(reader, key, value, G_MAXUINT32, &num, error))
            return FALSE;
    } else if (g_str_equal(key, "endpoint") || g_str_equal(key, "allowed_ip")
               || g_str_equal(key, "rx_bytes") || g_str_equal(key, "tx_bytes")
               || g_str_has_prefix(key, "last_handshake_time_")
               || g_str_equal(key, "persistent_keepalive_interval")) {
        return fail(reader, error, "%s: a peer attribute before any public_key", key);
    }
    return TRUE;
}

/* A complete line, without its '\n', is in reader->line (or was a secret). */
static WgmUapiReaderStatus
end_line(WgmUapiReader *reader, GError **error)
{
    const char *str = reader->line->str;

    if (reader->line_len == 0) {
        if (!reader->has_errno) {
            fail(reader, error, "empty line before errno");
            return WGM_UAPI_READER_ERROR;
        }
        if (reader->errno_value != 0) {
            const char *name = errno_name(reader->errno_value);

            reader->state = READER_FAILED;
            g_set_error(error,
                        WGM_ERROR,
                        WGM_ERROR_BACKEND,
                        "wireguard-go %s (errno=%" G_GINT64_FORMAT ": %s)",
                        reader->want_stats ? "could not report the device state"
                                           : "refused the configuration",
                        reader->errno_value,
                        name ? name : g_strerror((int)ABS(reader->errno_value)));
            return WGM_UAPI_READER_ERROR;
        }
        reader->state = READER_DONE;
        return WGM_UAPI_READER_DONE;
    }

    if (reader->has_errno) {
        fail(reader, error, "data after errno");
        return WGM_UAPI_READER_ERROR;
    }
    if (!reader->has_key) {
        fail(reader, error, "expected key=value");
        return WGM_UAPI_READER_ERROR;
    }
    if (reader->key_len == 0) {
        fail(reader, error, "empty key");
        return WGM_UAPI_READER_ERROR;
    }
    if (reader->line->len != strlen(str)) {
        /* An embedded NUL: no text protocol sends one. */
        fail(reader, error, "NUL byte in line");
        return WGM_UAPI_READER_ERROR;
    }
    if (!reader->in_secret) {
        reader->line->str[reader->key_len] = '\0';
        if (!handle_line(reader, str, str + reader->key_len + 1, error))
            return WGM_UAPI_READER_ERROR;
    }

    g_string_truncate(reader->line, 0);
    reader->line_len  = 0;
    reader->has_key   = FALSE;
    reader->in_secret = FALSE;
    reader->line_no++;
    return WGM_UAPI_READER_MORE;
}

static gboolean
overlong(WgmUapiReader *reader, GError **error)
{
    g_autofree char *key = NULL;

    if (!reader->has_key)
        return fail(reader, error, "line longer than %u bytes", MAX_LINE);
    /* Keys are protocol words, never secret: safe to name. */
    key = wgm_error_quote_value(reader->line->str);
    return fail(reader, error, "%s: line longer than %u bytes", key, MAX_LINE);
}

/* Takes @len bytes without a '\n' into the current line.  The limit is
 * checked on the key and on the value separately, so that where a chunk
 * ends never changes which error is reported. */
static gboolean
take(WgmUapiReader *reader, const char *data, gsize len, GError **error)
{
    if (!reader->has_key) {
        const char *eq   = memchr(data, '=', len);
        gsize       klen = eq ? (gsize)(eq - data) : len;

        if (klen > MAX_LINE - reader->line_len)
            return overlong(reader, error);
        g_string_append_len(reader->line, data, klen);
        reader->line_len += klen;
        if (!eq)
            return TRUE;
        reader->has_key = TRUE;
        reader->key_len = reader->line->len;
        /* The value of a secret line is skipped, never copied: the reader's
         * buffer holds no key material to wipe (the caller wipes its own). */
        reader->in_secret = is_secret_key(reader->line->str, reader->key_len);
        g_string_append_c(reader->line, '=');
        reader->line_len++;
        len -= klen + 1;
        data = eq + 1;
    }
    if (reader->line_len + len > MAX_LINE) {
        reader->line->str[reader->key_len] = '\0';
        return overlong(reader, error);
    }
    reader->line_len += len;
    if (!reader->in_secret)
        g_string_append_len(reader->line, data, len);
    return TRUE;
}

WgmUapiReaderStatus
wgm_uapi_reader_feed(WgmUapiReader *reader,
                     const char    *data,
                     gsize          len,
                     gsize         *out_consumed,
                     GError       **error)
{
    gsize pos = 0;

    g_return_val_if_fail(reader, WGM_UAPI_READER_ERROR);
    g_return_val_if_fail(data || len == 0, WGM_UAPI_READER_ERROR);
    g_return_val_if_fail(!error || !*error, WGM_UAPI_READER_ERROR);
    g_return_val_if_fail(reader->state == READER_READING, WGM_UAPI_READER_ERROR);

    if (out_consumed)
        *out_consumed = 0;

    while (pos < len) {
        const char         *nl = memchr(data + pos, '\n', len - pos);
        gsize               n  = nl ? (gsize)(nl - (data + pos)) : len - pos;
        WgmUapiReaderStatus status;

        if (!take(reader, data + pos, n, error)) {
            if (out_consumed)
                *out_consumed = pos;
            return WGM_UAPI_READER_ERROR;
        }
        pos += n;
        if (!nl)
            break;
        pos++;
        status = end_line(reader, error);
        if (status != WGM_UAPI_READER_MORE) {
            /* After an errno != 0 reply the stream is still in step:
             * *out_consumed then covers exactly that reply. */
            if (out_consumed)
                *out_consumed = pos;
            return status;
        }
    }
    if (out_consumed)
        *out_consumed = pos;
    return WGM_UAPI_READER_MORE;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The UAPI text protocol: exact "set" requests, and the incremental reader
 * on replies recorded from a real wireguard-go 0.0.20220316 (in a throw-away
 * network namespace; the private and preshared key values in the recordings
 * were replaced by dummy hex, the lines kept).
 */
#include <gio/gio.h>
#include <string.h>

#include "wgm-error.h"
#include "wgm-uapi.h"

/* ------------------------------------------------------------------------ */
/* Helpers */

static WgmKey
key_filled(guint8 byte)
{
    WgmKey key;

    memset(key.bytes, byte, sizeof(key.bytes));
    return key;
}

#define HEX_01 "0101010101010101010101010101010101010101010101010101010101010101"
#define HEX_02 "0202020202020202020202020202020202020202020202020202020202020202"
#define HEX_AA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_BB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static WgmEndpoint
endpoint(const char *str)
{
    WgmEndpoint ep    = { 0 };
    GError     *error = NULL;

    g_assert_true(wgm_endpoint_parse(str, &ep, &error));
    g_assert_no_error(error);
    return ep;
}

static GArray *
prefixes(const char *first, ...)
{
    GArray     *array = g_array_new(FALSE, TRUE, sizeof(WgmIpPrefix));
    const char *str;
    va_list     ap;

    va_start(ap, first);
    for (str = first; str; str = va_arg(ap, const char *)) {
        WgmIpPrefix prefix = { 0 };
        GError     *error  = NULL;

        g_assert_true(wgm_ip_prefix_parse(str, FALSE, &prefix, &error));
        g_assert_no_error(error);
        g_array_append_val(array, prefix);
    }
    va_end(ap);
    return array;
}

static void
assert_set(const WgmDeviceUpdate *update, const char *expected)
{
    GString *str = wgm_uapi_build_set(update);

    g_assert_cmpstr(str->str, ==, expected);
    wgm_secret_gstring_free(str);
}

static char *
read_data(const char *name, gsize *out_len)
{
    g_autofree char *path  = g_test_build_filename(G_TEST_DIST, "unit", "data", name, NULL);
    char            *data  = NULL;
    GError          *error = NULL;

    g_assert_true(g_file_get_contents(path, &data, out_len, &error));
    g_assert_no_error(error);
    return data;
}

/* Feeds @data in chunks: 0 = whole, 1 = byte by byte, -1 = random sizes.
 * Returns the final status; *out_consumed is the total consumed. */
static WgmUapiReaderStatus
feed_chunked(WgmUapiReader *reader,
             const char    *data,
             gsize          len,
             int            chunking,
             gsize         *out_consumed,
             GError       **error)
{
    WgmUapiReaderStatus status = WGM_UAPI_READER_MORE;
    gsize               pos    = 0;

    while (pos < len) {
        gsize n, consumed = 0;

        if (chunking == 0)
            n = len - pos;
        else if (chunking == 1)
            n = 1;
        else
            n = g_test_rand_int_range(1, 300); /* not inside MIN(): evaluated twice */
        n      = MIN(n, len - pos);
        status = wgm_uapi_reader_feed(reader, data + pos, n, &consumed, error);
        g_assert_cmpuint(consumed, <=, n);
        pos += consumed;
        if (status != WGM_UAPI_READER_MORE)
            break;
        g_assert_cmpuint(consumed, ==, n);
    }
    if (out_consumed)
        *out_consumed = pos;
    return status;
}

static WgmDeviceStats *
parse_get(const char *data, gsize len, int chunking)
{
    g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(TRUE);
    GError *error                   = NULL;
    gsize   consumed                = 0;

    g_assert_cmpint(
        feed_chunked(reader, data, len, chunking, &consumed, &error), ==, WGM_UAPI_READER_DONE);
    g_assert_no_error(error);
    g_assert_cmpuint(consumed, ==, len);
    return wgm_uapi_reader_steal_stats(reader);
}

static GError *
parse_error(gboolean want_stats, const char *data, gsize len)
{
    g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(want_stats);
    GError *error                   = NULL;

    g_assert_cmpint(feed_chunked(reader, data, len, -1, NULL, &error), ==, WGM_UAPI_READER_ERROR);
    g_assert_nonnull(error);
    return error;
}

static const WgmPeerStats *
find_peer(const WgmDeviceStats *stats, const char *hex)
{
    for (guint i = 0; i < stats->peers->len; i++) {
        const WgmPeerStats *peer = &g_array_index(stats->peers, WgmPeerStats, i);
        char                buf[WGM_KEY_HEX_LEN + 1];

        wgm_key_to_hex(&peer->public_key, buf);
        if (g_str_equal(buf, hex))
            return peer;
    }
    g_assert_not_reached();
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Building "set" */

static void
test_set_empty(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();

    assert_set(update, "set=1\n\n");
}

static void
test_set_device(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();

    update->has_private_key = TRUE;
    update->private_key     = key_filled(0xaa);
    update->listen_port     = 51820;
    update->replace_peers   = TRUE;
    assert_set(update,
               "set=1\n"
               "private_key=" HEX_AA "\n"
               "listen_port=51820\n"
               "replace_peers=true\n"
               "\n");

    /* 0 asks WireGuard for a random port; -1 leaves the port alone. */
    update->has_private_key = FALSE;
    update->listen_port     = 0;
    update->replace_peers   = FALSE;
    assert_set(update, "set=1\nlisten_port=0\n\n");
    update->listen_port = -1;
    assert_set(update, "set=1\n\n");
}

static void
test_set_peer_minimal(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    WgmKey key                        = key_filled(0x01);

    wgm_device_update_add_peer(update, &key);
    assert_set(update,
               "set=1\n"
               "public_key=" HEX_01 "\n"
               "persistent_keepalive_interval=0\n"
               "\n");
}

static void
test_set_peer_full(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    WgmKey         key                = key_filled(0x01);
    WgmPeerUpdate *peer               = wgm_device_update_add_peer(update, &key);

    peer->has_preshared_key    = TRUE;
    peer->preshared_key        = key_filled(0xbb);
    peer->has_endpoint         = TRUE;
    peer->endpoint             = endpoint("192.0.2.1:51820");
    peer->replace_allowed_ips  = TRUE;
    peer->allowed_ips          = prefixes("10.0.0.0/24", "fd00::/64", "0.0.0.0/0", NULL);
    peer->persistent_keepalive = 25;
    assert_set(update,
               "set=1\n"
               "public_key=" HEX_01 "\n"
               "preshared_key=" HEX_BB "\n"
               "endpoint=192.0.2.1:51820\n"
               "replace_allowed_ips=true\n"
               "allowed_ip=10.0.0.0/24\n"
               "allowed_ip=fd00::/64\n"
               "allowed_ip=0.0.0.0/0\n"
               "persistent_keepalive_interval=25\n"
               "\n");

    /* IPv6 endpoint in brackets; allowed IPs added without replacing; an
     * empty replacement list clears them. */
    peer->has_preshared_key   = FALSE;
    peer->endpoint            = endpoint("[2001:db8::1]:65535");
    peer->replace_allowed_ips = FALSE;
    assert_set(update,
               "set=1\n"
               "public_key=" HEX_01 "\n"
               "endpoint=[2001:db8::1]:65535\n"
               "allowed_ip=10.0.0.0/24\n"
               "allowed_ip=fd00::/64\n"
               "allowed_ip=0.0.0.0/0\n"
               "persistent_keepalive_interval=25\n"
               "\n");

    peer->has_endpoint        = FALSE;
    peer->replace_allowed_ips = TRUE;
    g_array_set_size(peer->allowed_ips, 0);
    peer->persistent_keepalive = 65535;
    assert_set(update,
               "set=1\n"
               "public_key=" HEX_01 "\n"
               "replace_allowed_ips=true\n"
               "persistent_keepalive_interval=65535\n"
               "\n");
}

static void
test_set_remove(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    WgmKey         key                = key_filled(0x02);
    WgmPeerUpdate *peer               = wgm_device_update_add_peer(update, &key);

    /* Everything else is moot for a removed peer, the kick too. */
    peer->remove               = TRUE;
    peer->has_endpoint         = TRUE;
    peer->endpoint             = endpoint("192.0.2.1:1");
    peer->has_preshared_key    = TRUE;
    peer->preshared_key        = key_filled(0xbb);
    peer->persistent_keepalive = 25;
    peer->kick                 = TRUE;
    assert_set(update,
               "set=1\n"
               "public_key=" HEX_02 "\n"
               "remove=true\n"
               "\n");
}

static void
test_set_kick(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    WgmKey         key                = key_filled(0x01);
    WgmPeerUpdate *peer               = wgm_device_update_add_peer(update, &key);

    /* Keepalive off: the first block turns it 0 -> 1 (wireguard-go sends a
     * keepalive, so a handshake initiation, when that block closes), the
     * second block for the same key restores the configured 0. */
    peer->has_endpoint = TRUE;
    peer->endpoint     = endpoint("[fd00::2]:51820");
    peer->kick         = TRUE;
    assert_set(update,
               "set=1\n"
               "public_key=" HEX_01 "\n"
               "endpoint=[fd00::2]:51820\n"
               "persistent_keepalive_interval=0\n"
               "persistent_keepalive_interval=1\n"
               "public_key=" HEX_01 "\n"
               "persistent_keepalive_interval=0\n"
               "\n");

    /* Keepalive on: still 0 -> 1 first (1 alone would not count as turning
     * it on), then 25; the preshared key comes before the kick. */
    peer->has_preshared_key    = TRUE;
    peer->preshared_key        = key_filled(0xbb);
    peer->persistent_keepalive = 25;
    assert_set(update,
               "set=1\n"
               "public_key=" HEX_01 "\n"
               "preshared_key=" HEX_BB "\n"
               "endpoint=[fd00::2]:51820\n"
               "persistent_keepalive_interval=0\n"
               "persistent_keepalive_interval=1\n"
               "public_key=" HEX_01 "\n"
               "persistent_keepalive_interval=25\n"
               "\n");
}

static void
test_set_many(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    WgmKey         k1 = key_filled(0x01), k2 = key_filled(0x02), k3 = key_filled(0xbb);
    WgmPeerUpdate *peer;

    update->replace_peers      = TRUE;
    peer                       = wgm_device_update_add_peer(update, &k1);
    peer->kick                 = TRUE;
    peer                       = wgm_device_update_add_peer(update, &k2);
    peer->remove               = TRUE;
    peer                       = wgm_device_update_add_peer(update, &k3);
    peer->replace_allowed_ips  = TRUE;
    peer->allowed_ips          = prefixes("10.1.2.3/32", NULL);
    peer->persistent_keepalive = 5;
    assert_set(update,
               "set=1\n"
               "replace_peers=true\n"
               "public_key=" HEX_01 "\n"
               "persistent_keepalive_interval=0\n"
               "persistent_keepalive_interval=1\n"
               "public_key=" HEX_01 "\n"
               "persistent_keepalive_interval=0\n"
               "public_key=" HEX_02 "\n"
               "remove=true\n"
               "public_key=" HEX_BB "\n"
               "replace_allowed_ips=true\n"
               "allowed_ip=10.1.2.3/32\n"
               "persistent_keepalive_interval=5\n"
               "\n");
}

static void
test_set_large(void)
{
    g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
    GString *str;
    guint    n_lines = 0;

    for (guint i = 0; i < 10000; i++) {
        WgmKey         key = key_filled(0);
        WgmPeerUpdate *peer;

        key.bytes[0]              = i & 0xff;
        key.bytes[1]              = i >> 8;
        peer                      = wgm_device_update_add_peer(update, &key);
        peer->replace_allowed_ips = TRUE;
        peer->allowed_ips         = prefixes("10.0.0.1/32", "fd00::1/128", NULL);
        peer->has_endpoint        = TRUE;
        peer->endpoint            = endpoint("[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
        peer->has_preshared_key   = TRUE;
        peer->kick                = TRUE;
    }
    str = wgm_uapi_build_set(update);
    for (gsize i = 0; i < str->len; i++)
        n_lines += str->str[i] == '\n';
    g_assert_cmpuint(n_lines, ==, 1 + 10000 * 10 + 1);
    g_assert_true(g_str_has_suffix(str->str, "persistent_keepalive_interval=0\n\n"));
    wgm_secret_gstring_free(str);
}

/* The request buffer is allocated once and never grows (a realloc would
 * leave the hex keys in freed memory): with the worst-case lines for every
 * peer and many allowed IPs, the allocation is what it was at the start
 * (build_set also warns, which g_test_init() makes fatal). */
static void
test_set_no_growth(void)
{
    for (guint n_ips = 0; n_ips <= 300; n_ips += 100) {
        g_autoptr(WgmDeviceUpdate) update = wgm_device_update_new();
        GString *str;
        gsize    len_before_wipe;

        update->has_private_key = TRUE;
        update->private_key     = key_filled(0x5a);
        update->listen_port     = 65535;
        update->replace_peers   = TRUE;
        for (guint i = 0; i < 3; i++) {
            WgmKey         key  = key_filled(i + 1);
            WgmPeerUpdate *peer = wgm_device_update_add_peer(update, &key);

            peer->replace_allowed_ips  = TRUE;
            peer->allowed_ips          = g_array_new(FALSE, FALSE, sizeof(WgmIpPrefix));
            peer->has_endpoint         = TRUE;
            peer->endpoint             = endpoint("[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
            peer->has_preshared_key    = TRUE;
            peer->preshared_key        = key_filled(0xa5);
            peer->persistent_keepalive = 65535;
            peer->kick                 = TRUE;
            for (guint j = 0; j < n_ips; j++) {
                g_autofree char *text =
                    g_strdup_printf("2001:db8:ffff:ffff:ffff:ffff:%x:ffff/128", j);
                WgmIpPrefix p;

                g_assert_true(wgm_ip_prefix_parse(text, FALSE, &p, NULL));
                g_array_append_val(peer->allowed_ips, p);
            }
        }
        str             = wgm_uapi_build_set(update);
        len_before_wipe = str->len;
        g_assert_cmpuint(len_before_wipe, <, str->allocated_len);
        g_assert_nonnull(strstr(str->str, "preshared_key="));
        wgm_secret_gstring_free(str);
    }
}

/* ------------------------------------------------------------------------ */
/* Reading replies recorded from wireguard-go */

#define MESH_P4 "8406511af529737afe8cf682422986214c3ddf72cb5742d7c835f354a338897c"
#define MESH_P5 "acef1a359136ef01a2d81c7e0f9d47a296f9799d6466456844e6319969ab4d30"
#define MESH_P6 "8d55031336192f1f3b05fb50c4dd2b5727cfd9c877b2884e46d9e68228639b33"
#define MESH_P1 "d8c36af56b9c744610ba2f06c1e7944b6f8c2807e75cb4e5db7b47d61b9e885b"
#define MESH_P2 "00d0f5746b4669a71098a06999cec08a4d20bfb0e82465a831323e6f6ceaa06f"
#define MESH_P3 "b86b5c60ce2ef0681f2e9caab3cabfc92233a7ac140c2fc5c238e94fc839311e"

static void
check_mesh(const WgmDeviceStats *stats)
{
    const WgmPeerStats *peer;
    WgmEndpoint         ep;

    g_assert_cmpint(stats->listen_port, ==, 51820);
    g_assert_cmpuint(stats->peers->len, ==, 6);

    peer = find_peer(stats, MESH_P4);
    ep   = endpoint("[::1]:51824");
    g_assert_true(peer->has_endpoint);
    g_assert_true(wgm_endpoint_equal(&peer->endpoint, &ep));
    g_assert_cmpint(peer->last_handshake_usec, ==, G_GINT64_CONSTANT(1795615984477122));
    g_assert_cmpuint(peer->tx_bytes, ==, 180);
    g_assert_cmpuint(peer->rx_bytes, ==, 92);
    g_assert_cmpuint(peer->persistent_keepalive, ==, 0);
    g_assert_cmpuint(peer->n_allowed_ips, ==, 1);

    peer = find_peer(stats, MESH_P5);
    g_assert_false(peer->has_endpoint);
    g_assert_cmpint(peer->last_handshake_usec, ==, 0);
    g_assert_cmpuint(peer->tx_bytes, ==, 0);
    g_assert_cmpuint(peer->rx_bytes, ==, 0);
    g_assert_cmpuint(peer->n_allowed_ips, ==, 3);

    peer = find_peer(stats, MESH_P6);
    ep   = endpoint("10.99.0.77:51899");
    g_assert_true(wgm_endpoint_equal(&peer->endpoint, &ep));
    g_assert_cmpint(peer->last_handshake_usec, ==, 0);
    g_assert_cmpuint(peer->tx_bytes, ==, 148); /* one unanswered initiation */
    g_assert_cmpuint(peer->rx_bytes, ==, 0);

    peer = find_peer(stats, MESH_P1);
    ep   = endpoint("127.0.0.1:51821");
    g_assert_true(wgm_endpoint_equal(&peer->endpoint, &ep));
    g_assert_cmpint(peer->last_handshake_usec, ==, G_GINT64_CONSTANT(1795615984476866));

    peer = find_peer(stats, MESH_P2);
    ep   = endpoint("[fd99::2]:51822");
    g_assert_true(wgm_endpoint_equal(&peer->endpoint, &ep));
    g_assert_cmpint(peer->last_handshake_usec, ==, G_GINT64_CONSTANT(1795615985480393));
    g_assert_cmpuint(peer->tx_bytes, ==, 852);
    g_assert_cmpuint(peer->rx_bytes, ==, 764);
    g_assert_cmpuint(peer->persistent_keepalive, ==, 25);
    g_assert_cmpuint(peer->n_allowed_ips, ==, 2);

    peer = find_peer(stats, MESH_P3); /* has a preshared key: skipped */
    ep   = endpoint("10.99.0.2:51823");
    g_assert_true(wgm_endpoint_equal(&peer->endpoint, &ep));
    g_assert_cmpuint(peer->n_allowed_ips, ==, 2);
}

static void
test_read_mesh(void)
{
    gsize            len;
    g_autofree char *data = read_data("uapi-get-mesh.txt", &len);

    for (int chunking = -1; chunking <= 1; chunking++) {
        for (int round = 0; round < (chunking < 0 ? 50 : 1); round++) {
            g_autoptr(WgmDeviceStats) stats = parse_get(data, len, chunking);

            check_mesh(stats);
        }
    }
}

static void
test_read_recorded_others(void)
{
    gsize len;

    {
        g_autofree char *data           = read_data("uapi-get-no-peers.txt", &len);
        g_autoptr(WgmDeviceStats) stats = parse_get(data, len, 1);

        g_assert_cmpint(stats->listen_port, ==, 56040);
        g_assert_cmpuint(stats->peers->len, ==, 0);
    }
    {
        g_autofree char *data           = read_data("uapi-get-no-handshakes.txt", &len);
        g_autoptr(WgmDeviceStats) stats = parse_get(data, len, -1);

        g_assert_cmpuint(stats->peers->len, ==, 6);
        for (guint i = 0; i < stats->peers->len; i++)
            g_assert_cmpint(
                g_array_index(stats->peers, WgmPeerStats, i).last_handshake_usec, ==, 0);
        g_assert_cmpuint(find_peer(stats, MESH_P2)->tx_bytes, ==, 148);
    }
    {
        /* A link-local endpoint comes back without its zone. */
        g_autofree char *data           = read_data("uapi-get-ipv6.txt", &len);
        g_autoptr(WgmDeviceStats) stats = parse_get(data, len, 0);
        WgmEndpoint ep;

        g_assert_cmpuint(stats->peers->len, ==, 2);
        ep = endpoint("[2001:db8:1:2:3:4:5:6]:65535");
        g_assert_true(wgm_endpoint_equal(&find_peer(stats, MESH_P2)->endpoint, &ep));
        ep = endpoint("[fe80::1]:51821");
        g_assert_true(wgm_endpoint_equal(&find_peer(stats, MESH_P1)->endpoint, &ep));
        g_assert_cmpuint(find_peer(stats, MESH_P1)->n_allowed_ips, ==, 2);
    }
}

static void
test_read_set_replies(void)
{
    static const struct {
        const char *file;
        const char *message;
    } cases[] = {
        { "uapi-set-einval.txt", "wireguard-go refused the configuration (errno=-22: EINVAL)" },
        { "uapi-set-eaddrinuse.txt",
          "wireguard-go refused the configuration (errno=-98: EADDRINUSE)" },
        { "uapi-set-eproto.txt", "wireguard-go refused the configuration (errno=-71: EPROTO)" },
    };
    gsize len, consumed;

    {
        g_autofree char *data           = read_data("uapi-set-ok.txt", &len);
        g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(FALSE);
        GError *error                   = NULL;

        g_assert_cmpint(
            feed_chunked(reader, data, len, 1, &consumed, &error), ==, WGM_UAPI_READER_DONE);
        g_assert_no_error(error);
        g_assert_cmpuint(consumed, ==, len);
        g_assert_null(wgm_uapi_reader_steal_stats(reader));
    }

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *data           = read_data(cases[i].file, &len);
        g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(FALSE);
        g_autoptr(GError) error         = NULL;

        /* The whole reply is consumed: the stream is still in step. */
        g_assert_cmpint(
            feed_chunked(reader, data, len, 0, &consumed, &error), ==, WGM_UAPI_READER_ERROR);
        g_assert_cmpuint(consumed, ==, len);
        g_assert_error(error, WGM_ERROR, WGM_ERROR_BACKEND);
        g_assert_cmpstr(error->message, ==, cases[i].message);
    }
}

static void
test_read_errno(void)
{
    g_autoptr(GError) error = NULL;

    /* Kernel-style positive values name the same errno. */
    error = parse_error(FALSE, "errno=22\n\n", 11);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_cmpstr(
        error->message, ==, "wireguard-go refused the configuration (errno=22: EINVAL)");
    g_clear_error(&error);

    /* A get can fail too, and the reader must not hand out what it saw. */
    error = parse_error(TRUE, "listen_port=1\nerrno=-55\n\n", 25);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_cmpstr(
        error->message, ==, "wireguard-go could not report the device state (errno=-55: ENOANO)");
    g_clear_error(&error);

    /* Unknown to the table: strerror() text. */
    error = parse_error(FALSE, "errno=-4000\n\n", 13);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_BACKEND);
    g_assert_true(
        g_str_has_prefix(error->message, "wireguard-go refused the configuration (errno=-4000: "));
    g_clear_error(&error);

    error = parse_error(FALSE, "errno=x\n\n", 9);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "line 1"));
    g_assert_nonnull(strstr(error->message, "errno"));
    g_clear_error(&error);

    error = parse_error(FALSE, "errno=-\n\n", 9);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_PROTOCOL);
    g_clear_error(&error);

    error = parse_error(FALSE, "errno=0\nerrno=0\n\n", 17);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "line 2"));
}

static void
test_read_truncated(void)
{
    gsize            len;
    g_autofree char *data = read_data("uapi-get-mesh.txt", &len);

    /* Every proper prefix of a reply asks for more, never finishes early. */
    for (gsize cut = 0; cut < len; cut++) {
        g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(TRUE);
        GError *error                   = NULL;
        gsize   consumed                = 0;

        g_assert_cmpint(
            wgm_uapi_reader_feed(reader, data, cut, &consumed, &error), ==, WGM_UAPI_READER_MORE);
        g_assert_no_error(error);
        g_assert_cmpuint(consumed, ==, cut);
    }
}

static void
test_read_trailing(void)
{
    static const char data[]        = "listen_port=7\nerrno=0\n\nerrno=0\n\n";
    g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(TRUE);
    g_autoptr(WgmDeviceStats) stats = NULL;
    GError *error                   = NULL;
    gsize   consumed                = 0;

    /* What follows a reply is not consumed: it belongs to the next one. */
    g_assert_cmpint(wgm_uapi_reader_feed(reader, data, strlen(data), &consumed, &error),
                    ==,
                    WGM_UAPI_READER_DONE);
    g_assert_no_error(error);
    g_assert_cmpuint(consumed, ==, strlen("listen_port=7\nerrno=0\n\n"));
    stats = wgm_uapi_reader_steal_stats(reader);
    g_assert_cmpint(stats->listen_port, ==, 7);
}

static void
test_read_garbage(void)
{
    static const struct {
        const char *reply;
        guint       line;
        const char *key; /* expected in the message, or NULL */
    } cases[] = {
        { "hello\nerrno=0\n\n", 1, NULL },
        { "\n", 1, NULL },
        { "listen_port=1\n\n", 2, NULL },
        { "errno=0\nlisten_port=1\n\n", 2, NULL },
        { "=1\nerrno=0\n\n", 1, NULL },
        { "listen_port=abc\nerrno=0\n\n", 1, "listen_port" },
        { "listen_port=70000\n", 1, "listen_port" },
        { "listen_port=-1\n", 1, "listen_port" },
        { "listen_port= 1\n", 1, "listen_port" },
        { "listen_port=\n", 1, "listen_port" },
        { "fwmark=4294967296\n", 1, "fwmark" },
        { "public_key=zz\n", 1, "public_key" },
        { "public_key=0101\n", 1, "public_key" },
        { "endpoint=1.2.3.4:5\n", 1, "endpoint" },
        { "tx_bytes=1\n", 1, "tx_bytes" },
        { "public_key=" HEX_01 "\nendpoint=nonsense\n", 2, "endpoint" },
        { "public_key=" HEX_01 "\nrx_bytes=18446744073709551616\n", 2, "rx_bytes" },
        { "public_key=" HEX_01 "\ntx_bytes=0x10\n", 2, "tx_bytes" },
        { "public_key=" HEX_01 "\nlast_handshake_time_nsec=1000000000\n",
          2,
          "last_handshake_time_nsec" },
        { "public_key=" HEX_01 "\nlast_handshake_time_sec=99999999999999999\n",
          2,
          "last_handshake_time_sec" },
        { "public_key=" HEX_01 "\npersistent_keepalive_interval=65536\n",
          2,
          "persistent_keepalive_interval" },
        { "public_key=" HEX_01 "\nallowed_ip=\n", 2, "allowed_ip" },
        { "listen_port=1\nx\0y=1\n", 2, NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *line   = g_strdup_printf("line %u:", cases[i].line);
        gsize            len    = strlen(cases[i].reply);

        if (g_str_has_suffix(cases[i].reply, "x"))
            len += 5; /* the embedded NUL case */
        error = parse_error(TRUE, cases[i].reply, len);
        g_test_message("%u: %s", i, error->message);
        g_assert_error(error, WGM_ERROR, WGM_ERROR_PROTOCOL);
        g_assert_nonnull(strstr(error->message, line));
        if (cases[i].key)
            g_assert_nonnull(strstr(error->message, cases[i].key));
    }
}

static void
test_read_unknown_keys(void)
{
    static const char data[]        = "listen_port=9\n"
                                      "fancy_new_device_key=whatever\n"
                                      "public_key=" HEX_01 "\n"
                                      "protocol_version=1\n"
                                      "protocol_version=2\n"
                                      "fancy_new_peer_key=1\n"
                                      "rx_bytes=5\n"
                                      "errno=0\n"
                                      "\n";
    g_autoptr(WgmDeviceStats) stats = parse_get(data, strlen(data), -1);

    g_assert_cmpint(stats->listen_port, ==, 9);
    g_assert_cmpuint(stats->peers->len, ==, 1);
    g_assert_cmpuint(find_peer(stats, HEX_01)->rx_bytes, ==, 5);

    /* A set reply is only errno; anything else is ignored, not stored. */
    {
        g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(FALSE);
        GError *error                   = NULL;

        g_assert_cmpint(wgm_uapi_reader_feed(reader, data, strlen(data), NULL, &error),
                        ==,
                        WGM_UAPI_READER_DONE);
        g_assert_no_error(error);
    }
}

static void
test_read_overlong(void)
{
    g_autoptr(GError) error = NULL;
    GString *str;

    /* No newline at all: refused once past the cap, without waiting for one. */
    str = g_string_new(NULL);
    for (int i = 0; i < 5000; i++)
        g_string_append_c(str, 'a');
    error = parse_error(TRUE, str->str, str->len);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "longer than"));
    g_clear_error(&error);

    /* A long value of a secret names the key, never the value. */
    g_string_assign(str, "private_key=");
    for (int i = 0; i < 5000; i++)
        g_string_append_c(str, "0123456789abcdef"[i % 16]);
    g_string_append(str, "\nerrno=0\n\n");
    error = parse_error(TRUE, str->str, str->len);
    g_assert_error(error, WGM_ERROR, WGM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "line 1"));
    g_assert_nonnull(strstr(error->message, "private_key"));
    g_assert_null(strstr(error->message, "0123"));
    g_clear_error(&error);

    /* Just below the cap is fine. */
    g_string_assign(str, "fancy_new_key=");
    while (str->len < 4096)
        g_string_append_c(str, 'x');
    g_string_append(str, "\nerrno=0\n\n");
    {
        g_autoptr(WgmDeviceStats) stats = parse_get(str->str, str->len, -1);
    }
    g_string_free(str, TRUE);
}

static void
test_read_secrets(void)
{
    /* Secret lines are skipped whatever their value, even with bytes that
     * would be malformed elsewhere, and never show up in an error. */
    static const char data[] = "private_key=sup3r-s3cret\n"
                               "public_key=" HEX_01 "\n"
                               "preshared_key=an0ther s3cret=\n"
                               "rx_bytes=oops\n"
                               "errno=0\n\n";
    g_autoptr(GError) error  = parse_error(TRUE, data, strlen(data));

    g_assert_error(error, WGM_ERROR, WGM_ERROR_PROTOCOL);
    g_assert_nonnull(strstr(error->message, "line 4"));
    g_assert_nonnull(strstr(error->message, "rx_bytes"));
    g_assert_null(strstr(error->message, "s3cret"));
}

static void
test_read_many_peers(void)
{
    GString *str = g_string_new(NULL);
    guint    n   = 1000;

    g_string_append(str, "private_key=" HEX_AA "\nlisten_port=51820\n");
    for (guint i = 0; i < n; i++) {
        WgmKey key = key_filled(0x5a);
        char   hex[WGM_KEY_HEX_LEN + 1];

        key.bytes[0] = i & 0xff;
        key.bytes[1] = i >> 8;
        wgm_key_to_hex(&key, hex);
        g_string_append_printf(str,
                               "public_key=%s\n"
                               "preshared_key=" HEX_BB "\n"
                               "protocol_version=1\n"
                               "endpoint=%s\n"
                               "last_handshake_time_sec=%u\n"
                               "last_handshake_time_nsec=%u\n"
                               "tx_bytes=%" G_GUINT64_FORMAT "\n"
                               "rx_bytes=%u\n"
                               "persistent_keepalive_interval=%u\n"
                               "allowed_ip=10.%u.%u.0/24\n"
                               "allowed_ip=fd00::%x/128\n",
                               hex,
                               i % 2 ? "[2001:db8::7]:51820" : "198.51.100.7:51820",
                               i ? 1700000000 + i : 0,
                               i * 1000 + 999,
                               G_GUINT64_CONSTANT(1) << 40 | i,
                               2 * i,
                               i % 26,
                               i >> 8,
                               i & 0xff,
                               i);
    }
    g_string_append(str, "errno=0\n\n");

    for (int chunking = -1; chunking <= 1; chunking++) {
        g_autoptr(WgmDeviceStats) stats = parse_get(str->str, str->len, chunking);

        g_assert_cmpuint(stats->peers->len, ==, n);
        for (guint i = 0; i < n; i++) {
            const WgmPeerStats *peer = &g_array_index(stats->peers, WgmPeerStats, i);

            g_assert_cmpuint(peer->public_key.bytes[0] | peer->public_key.bytes[1] << 8, ==, i);
            g_assert_true(peer->has_endpoint);
            g_assert_cmpint(peer->endpoint.addr.family, ==, i % 2 ? AF_INET6 : AF_INET);
            g_assert_cmpint(peer->endpoint.port, ==, 51820);
            g_assert_cmpint(peer->last_handshake_usec,
                            ==,
                            i ? (gint64)(1700000000 + i) * G_USEC_PER_SEC + i : 0);
            g_assert_cmpuint(peer->tx_bytes, ==, G_GUINT64_CONSTANT(1) << 40 | i);
            g_assert_cmpuint(peer->rx_bytes, ==, 2 * i);
            g_assert_cmpuint(peer->persistent_keepalive, ==, i % 26);
            g_assert_cmpuint(peer->n_allowed_ips, ==, 2);
        }
    }
    g_string_free(str, TRUE);
}

static void
test_read_random_garbage(void)
{
    static const char alphabet[] = "=\n\n_abcdefghijklmnopqrstuvwxyz0123456789-[]:.%/ \0";

    /* Whatever arrives, the reader ends in one of its three answers and
     * never reads past what it was given (valgrind/ASan runs check the rest). */
    for (guint round = 0; round < 2000; round++) {
        g_autoptr(WgmUapiReader) reader = wgm_uapi_reader_new(round % 2);
        g_autoptr(GError) error         = NULL;
        char  buf[256];
        gsize len = g_test_rand_int_range(0, sizeof(buf));

        for (gsize i = 0; i < len; i++)
            buf[i] = alphabet[g_test_rand_int_range(0, sizeof(alphabet))];
        switch (feed_chunked(reader, buf, len, -1, NULL, &error)) {
        case WGM_UAPI_READER_MORE:
        case WGM_UAPI_READER_DONE:
            g_assert_no_error(error);
            break;
        case WGM_UAPI_READER_ERROR:
            g_assert_nonnull(error);
            break;
        }
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/uapi/set/empty", test_set_empty);
    g_test_add_func("/uapi/set/device", test_set_device);
    g_test_add_func("/uapi/set/peer-minimal", test_set_peer_minimal);
    g_test_add_func("/uapi/set/peer-full", test_set_peer_full);
    g_test_add_func("/uapi/set/remove", test_set_remove);
    g_test_add_func("/uapi/set/kick", test_set_kick);
    g_test_add_func("/uapi/set/many", test_set_many);
    g_test_add_func("/uapi/set/large", test_set_large);
    g_test_add_func("/uapi/set/no-growth", test_set_no_growth);
    g_test_add_func("/uapi/read/recorded-mesh", test_read_mesh);
    g_test_add_func("/uapi/read/recorded-others", test_read_recorded_others);
    g_test_add_func("/uapi/read/recorded-set-replies", test_read_set_replies);
    g_test_add_func("/uapi/read/errno", test_read_errno);
    g_test_add_func("/uapi/read/truncated", test_read_truncated);
    g_test_add_func("/uapi/read/trailing", test_read_trailing);
    g_test_add_func("/uapi/read/garbage", test_read_garbage);
    g_test_add_func("/uapi/read/unknown-keys", test_read_unknown_keys);
    g_test_add_func("/uapi/read/overlong", test_read_overlong);
    g_test_add_func("/uapi/read/secrets", test_read_secrets);
    g_test_add_func("/uapi/read/1000-peers", test_read_many_peers);
    g_test_add_func("/uapi/read/random-garbage", test_read_random_garbage);

    return g_test_run();
}

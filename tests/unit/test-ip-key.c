/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <gio/gio.h>
#include <string.h>

#include "wgm-error.h"
#include "wgm-ip.h"
#include "wgm-key.h"

/* ------------------------------------------------------------------------ */
/* Keys */

#define KEY_0_31_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_0_31_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void
test_key_known_vector(void)
{
    g_auto(WgmKey) key = { 0 };
    WgmKey   expected;
    char     b64[WGM_KEY_B64_LEN + 1];
    char     hex[WGM_KEY_HEX_LEN + 1];
    char     shrt[WGM_KEY_SHORT_LEN + 1];
    GError  *error = NULL;
    unsigned i;

    for (i = 0; i < WGM_KEY_LEN; i++)
        expected.bytes[i] = (guint8)i;

    g_assert_true(wgm_key_from_base64(KEY_0_31_B64, &key, &error));
    g_assert_no_error(error);
    g_assert_true(wgm_key_equal(&key, &expected));

    wgm_key_to_base64(&key, b64);
    g_assert_cmpstr(b64, ==, KEY_0_31_B64);
    wgm_key_to_hex(&key, hex);
    g_assert_cmpstr(hex, ==, KEY_0_31_HEX);
    wgm_key_to_short(&key, shrt);
    g_assert_cmpstr(shrt, ==, "AAECAwQF");

    memset(&key, 0, sizeof(key));
    g_assert_true(wgm_key_from_hex(KEY_0_31_HEX, strlen(KEY_0_31_HEX), &key));
    g_assert_true(wgm_key_equal(&key, &expected));
}

static void
test_key_round_trip(void)
{
    GRand   *rand = g_rand_new_with_seed(42);
    unsigned n, i;

    for (n = 0; n < 2000; n++) {
        g_auto(WgmKey) key        = { 0 };
        g_auto(WgmKey) back       = { 0 };
        g_autofree char *glib_b64 = NULL;
        g_autofree char *upper    = NULL;
        char             b64[WGM_KEY_B64_LEN + 1];
        char             hex[WGM_KEY_HEX_LEN + 1];
        GError          *error = NULL;

        for (i = 0; i < WGM_KEY_LEN; i++)
            key.bytes[i] = (guint8)g_rand_int_range(rand, 0, 256);
        /* Edge values so every base64 character is produced. */
        if (n == 0)
            memset(key.bytes, 0xff, sizeof(key.bytes));

        wgm_key_to_base64(&key, b64);
        glib_b64 = g_base64_encode(key.bytes, sizeof(key.bytes));
        g_assert_cmpstr(b64, ==, glib_b64);
        g_assert_true(wgm_key_from_base64(b64, &back, &error));
        g_assert_no_error(error);
        g_assert_true(wgm_key_equal(&key, &back));

        wgm_key_to_hex(&key, hex);
        g_assert_cmpuint(strlen(hex), ==, WGM_KEY_HEX_LEN);
        memset(&back, 0, sizeof(back));
        g_assert_true(wgm_key_from_hex(hex, strlen(hex), &back));
        g_assert_true(wgm_key_equal(&key, &back));

        upper = g_ascii_strup(hex, -1);
        memset(&back, 0, sizeof(back));
        g_assert_true(wgm_key_from_hex(upper, strlen(upper), &back));
        g_assert_true(wgm_key_equal(&key, &back));
    }
    g_rand_free(rand);
}

static void
test_key_base64_bad(void)
{
    /* Each input carries "SECRET" so we can tell it was never echoed. */
    static const struct {
        const char *input;
        const char *expect; /* substring of the message */
    } cases[] = {
        { "SECRET", "got 6" },
        { "", "got 0" },
        { "SECRETQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "got 43" },
        { "SECRETQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==", "got 45" },
        { "SECRETQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "got 45" },
        { " SECRETQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "got 45" },
        { "SECRETQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", "ending in '='" },
        { "SECRETQFBgcICQoLDA0O xAREhMUFRYXGBkaGxwdHh8=", "decode to 32 bytes" },
        { "SECRETQFBgcICQoLDA0O*xAREhMUFRYXGBkaGxwdHh8=", "decode to 32 bytes" },
        { "SECRET-FBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "decode to 32 bytes" },
        { "SECRET_FBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "decode to 32 bytes" },
        { "SECRET=FBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "decode to 32 bytes" },
        { "SECRET\xc3\xa9"
          "BgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
          "decode to 32 bytes" },
        { "SECRETQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\0", "got 43" },
        /* Non-zero bits after the 256th: 'h' is not a canonical last character. */
        { "SECRETQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHhh=", "decode to 32 bytes" },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        WgmKey  key   = { { 0xaa } };
        GError *error = NULL;

        g_test_message("input %u", i);
        g_assert_false(wgm_key_from_base64(cases[i].input, &key, &error));
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_assert_true(g_str_has_prefix(error->message, "is not a WireGuard key: "));
        g_assert_nonnull(strstr(error->message, cases[i].expect));
        g_assert_null(strstr(error->message, "SECRET"));
        /* Untouched on failure. */
        g_assert_cmpuint(key.bytes[0], ==, 0xaa);
        g_clear_error(&error);
    }

    {
        WgmKey  key   = { { 0 } };
        GError *error = NULL;

        g_assert_false(wgm_key_from_base64(NULL, &key, &error));
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_clear_error(&error);
        /* NULL error is allowed. */
        g_assert_false(wgm_key_from_base64("x", &key, NULL));
    }
}

static void
test_key_base64_canonical(void)
{
    /* 32 bytes leave 2 spare bits in the 43rd character: only A, E, I, ... are
     * canonical there ("...Hh8=" ends in 0x1f, 0b000111_11 + 00). */
    static const char *const ok[]  = { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" };
    static const char *const bad[] = {
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh/=",
    };
    unsigned i;
    WgmKey   key;

    for (i = 0; i < G_N_ELEMENTS(ok); i++)
        g_assert_true(wgm_key_from_base64(ok[i], &key, NULL));
    for (i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_false(wgm_key_from_base64(bad[i], &key, NULL));
}

static void
test_key_hex_bad(void)
{
    static const char *const cases[] = {
        "",
        "00",
        KEY_0_31_HEX "0",
        "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1:",
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        WgmKey key = { { 0x55 } };

        g_assert_false(wgm_key_from_hex(cases[i], strlen(cases[i]), &key));
        g_assert_cmpuint(key.bytes[0], ==, 0x55);
    }
    /* @len is honoured: a longer buffer is fine when told 64. */
    {
        WgmKey key;

        g_assert_true(wgm_key_from_hex(KEY_0_31_HEX "trailing", WGM_KEY_HEX_LEN, &key));
        g_assert_false(wgm_key_from_hex(NULL, 0, &key));
    }
}

static void
test_key_hash_equal(void)
{
    g_autoptr(GHashTable) table = g_hash_table_new(wgm_key_hash, wgm_key_equal_func);
    WgmKey   keys[64];
    WgmKey   probe;
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(keys); i++) {
        memset(&keys[i], 0, sizeof(keys[i]));
        /* Share a long prefix: the hash must look past it. */
        keys[i].bytes[31] = (guint8)i;
        g_hash_table_insert(table, &keys[i], GUINT_TO_POINTER(i + 1));
    }
    g_assert_cmpuint(g_hash_table_size(table), ==, G_N_ELEMENTS(keys));
    for (i = 0; i < G_N_ELEMENTS(keys); i++) {
        probe = keys[i];
        g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(table, &probe)), ==, i + 1);
        g_assert_cmpuint(wgm_key_hash(&probe), ==, wgm_key_hash(&keys[i]));
    }
    g_assert_true(wgm_key_is_zero(&keys[0]));
    g_assert_false(wgm_key_is_zero(&keys[1]));
    g_assert_false(wgm_key_equal(&keys[0], &keys[1]));
    g_assert_true(wgm_key_equal_func(&keys[2], &keys[2]));
}

static void
test_key_wipe(void)
{
    char     buf[100];
    WgmKey   key;
    GString *s;
    unsigned i;

    memset(buf, 'x', sizeof(buf));
    wgm_memzero(buf, sizeof(buf));
    for (i = 0; i < sizeof(buf); i++)
        g_assert_cmpint(buf[i], ==, 0);
    wgm_memzero(NULL, 0);

    memset(&key, 0x11, sizeof(key));
    wgm_key_wipe(&key);
    g_assert_true(wgm_key_is_zero(&key));
    {
        g_auto(WgmKey) scoped = { { 1, 2, 3 } };

        g_assert_false(wgm_key_is_zero(&scoped));
    }

    wgm_secret_free(NULL);
    wgm_secret_free(g_strdup("hunter2"));
    wgm_secret_gstring_free(NULL);
    s = g_string_new("a long secret that is then cut short");
    g_string_truncate(s, 3);
    wgm_secret_gstring_free(s);
}

/* ------------------------------------------------------------------------ */
/* IP addresses and prefixes */

static void
test_ip_addr(void)
{
    static const struct {
        const char *in;
        int         family;
        const char *out;
    } good[] = {
        { "10.0.0.1", AF_INET, "10.0.0.1" },
        { "0.0.0.0", AF_INET, "0.0.0.0" },
        { "255.255.255.255", AF_INET, "255.255.255.255" },
        { "fd00::1", AF_INET6, "fd00::1" },
        { "FD00:0:0:0:0:0:0:1", AF_INET6, "fd00::1" },
        { "::", AF_INET6, "::" },
        { "::ffff:1.2.3.4", AF_INET6, "::ffff:1.2.3.4" },
    };
    static const char *const bad[] = {
        "",          "010.0.0.1",   "10.0.0.256",   "10.0.0",     " 10.0.0.1",
        "10.0.0.1 ", "10.0.0.1/32", "fd00::1%eth0", "fd00:::1",   "hello",
        "[fd00::1]", "0x0a.0.0.1",  "1.2.3.4.5",    "fd00::1::2",
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(good); i++) {
        WgmIpAddr a;
        WgmIpAddr again;
        char      buf[WGM_IP_STRLEN];

        g_assert_true(wgm_ip_addr_parse(good[i].in, &a));
        g_assert_cmpint(a.family, ==, good[i].family);
        g_assert_cmpstr(wgm_ip_addr_to_string(&a, buf), ==, good[i].out);
        g_assert_true(wgm_ip_addr_parse(buf, &again));
        g_assert_cmpmem(&a, sizeof(a), &again, sizeof(again));
    }
    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        WgmIpAddr a = { .family = 12345 };

        {
            g_autofree char *q = wgm_error_quote_value(bad[i]);

            g_test_message("bad address %s", q);
        }
        g_assert_false(wgm_ip_addr_parse(bad[i], &a));
        g_assert_cmpint(a.family, ==, 12345);
    }
    {
        WgmIpAddr a;

        g_assert_false(wgm_ip_addr_parse(NULL, &a));
    }
}

static void
test_ip_prefix(void)
{
    static const struct {
        const char *in;
        gboolean    allow_host;
        const char *out;
        const char *normalized;
        gboolean    is_default;
    } good[] = {
        { "10.0.0.0/24", FALSE, "10.0.0.0/24", "10.0.0.0/24", FALSE },
        { "10.1.2.3/20", FALSE, "10.1.2.3/20", "10.1.0.0/20", FALSE },
        { "10.1.2.3/0", FALSE, "10.1.2.3/0", "0.0.0.0/0", TRUE },
        { "0.0.0.0/0", FALSE, "0.0.0.0/0", "0.0.0.0/0", TRUE },
        { "10.1.2.3/32", FALSE, "10.1.2.3/32", "10.1.2.3/32", FALSE },
        { "10.1.2.3/31", FALSE, "10.1.2.3/31", "10.1.2.2/31", FALSE },
        { "10.1.2.3", TRUE, "10.1.2.3/32", "10.1.2.3/32", FALSE },
        { "fd00::1", TRUE, "fd00::1/128", "fd00::1/128", FALSE },
        { "fd00::ffff/120", FALSE, "fd00::ffff/120", "fd00::ff00/120", FALSE },
        { "fd00:1:2:3:4:5:6:7/64", FALSE, "fd00:1:2:3:4:5:6:7/64", "fd00:1:2:3::/64", FALSE },
        { "::/0", FALSE, "::/0", "::/0", TRUE },
        { "fd00::1/128", FALSE, "fd00::1/128", "fd00::1/128", FALSE },
    };
    static const struct {
        const char *in;
        gboolean    allow_host;
        const char *expect;
    } bad[] = {
        { "10.0.0.1", FALSE, "is not an IP prefix (expected ADDRESS/LENGTH)" },
        { "10.0.0.300/32", FALSE, "\"10.0.0.300/32\" is not an IP prefix" },
        { "10.0.0.300/32", TRUE, "\"10.0.0.300/32\" is not an IP prefix" },
        { "", TRUE, "\"\" is not an IP prefix" },
        { "/24", TRUE, "is not an IP prefix" },
        { "10.0.0.0/33", FALSE, "bad prefix length (expected 0-32" },
        { "fd00::/129", FALSE, "bad prefix length (expected 0-128" },
        { "10.0.0.0/-1", FALSE, "bad prefix length" },
        { "10.0.0.0/+24", FALSE, "bad prefix length" },
        { "10.0.0.0/024", FALSE, "bad prefix length" },
        { "10.0.0.0/00", FALSE, "bad prefix length" },
        { "10.0.0.0/ 24", FALSE, "bad prefix length" },
        { "10.0.0.0/24 ", FALSE, "bad prefix length" },
        { "10.0.0.0/", FALSE, "bad prefix length" },
        { "10.0.0.0//24", FALSE, "bad prefix length" },
        { "10.0.0.0/24/", FALSE, "bad prefix length" },
        { "10.0.0.0/24x", FALSE, "bad prefix length" },
        { "10.0.0.0/99999999999999999999", FALSE, "bad prefix length" },
        { "010.0.0.0/8", FALSE, "is not an IP prefix" },
        { "fd00::1%lo/64", FALSE, "is not an IP prefix" },
        { "a\nb", TRUE, "\"a\\nb\" is not an IP prefix" },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(good); i++) {
        WgmIpPrefix p;
        WgmIpPrefix again;
        char        buf[WGM_IP_STRLEN];
        GError     *error = NULL;

        g_assert_true(wgm_ip_prefix_parse(good[i].in, good[i].allow_host, &p, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(wgm_ip_prefix_to_string(&p, buf), ==, good[i].out);
        g_assert_true(wgm_ip_prefix_parse(buf, FALSE, &again, NULL));
        g_assert_cmpmem(&p, sizeof(p), &again, sizeof(again));
        g_assert_cmpint(wgm_ip_prefix_is_default(&p), ==, good[i].is_default);
        wgm_ip_prefix_normalize(&p);
        g_assert_cmpstr(wgm_ip_prefix_to_string(&p, buf), ==, good[i].normalized);
    }
    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        WgmIpPrefix p     = { .plen = 77 };
        GError     *error = NULL;

        {
            g_autofree char *q = wgm_error_quote_value(bad[i].in);

            g_test_message("bad prefix %s", q);
        }
        g_assert_false(wgm_ip_prefix_parse(bad[i].in, bad[i].allow_host, &p, &error));
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_assert_nonnull(strstr(error->message, bad[i].expect));
        g_assert_cmpint(p.plen, ==, 77);
        g_clear_error(&error);
    }
}

/* ------------------------------------------------------------------------ */
/* Endpoints */

static void
test_ip_endpoint_split(void)
{
    g_autofree char *a           = NULL;
    g_autofree char *d61         = NULL;
    g_autofree char *d62         = NULL;
    g_autofree char *long_ok     = NULL;
    g_autofree char *long_ok_dot = NULL;
    g_autofree char *long_bad    = NULL;
    g_autofree char *label64     = NULL;
    static const struct {
        const char *in;
        const char *host;
        guint16     port;
    } good[] = {
        { "1.2.3.4:51820", "1.2.3.4", 51820 },
        { "[fd00::1]:51820", "fd00::1", 51820 },
        { "[fe80::1%eth0]:1", "fe80::1%eth0", 1 },
        { "example.com:65535", "example.com", 65535 },
        { "EXAMPLE.com.:80", "EXAMPLE.com.", 80 },
        { "a-b.c-d.example:051820", "a-b.c-d.example", 51820 },
        { "localhost:5", "localhost", 5 },
        { "1host.example:5", "1host.example", 5 },
    };
    static const struct {
        const char *in;
        const char *expect;
    } bad[] = {
        { "fd00::1:51820", "an IPv6 address needs brackets" },
        { "fd00::1", "an IPv6 address needs brackets" },
        { "1.2.3.4", "the port is missing" },
        { "", "the port is missing" },
        { "1.2.3.4:0", "bad port" },
        { "1.2.3.4:65536", "bad port" },
        { "1.2.3.4:99999999999999999999999", "bad port" },
        { "1.2.3.4:", "bad port" },
        { "1.2.3.4:+80", "bad port" },
        { "1.2.3.4:-80", "bad port" },
        { "1.2.3.4:80 ", "bad port" },
        { "1.2.3.4: 80", "bad port" },
        { "1.2.3.4:0x50", "bad port" },
        { ":51820", "neither an IPv4 address nor a host name" },
        { "[fd00::1]51820", "expected [IPV6-ADDRESS]:PORT" },
        { "[fd00::1]", "expected [IPV6-ADDRESS]:PORT" },
        { "[fd00::1:51820", "expected [IPV6-ADDRESS]:PORT" },
        { "[1.2.3.4]:5", "only an IPv6 address may go in brackets" },
        { "[example.com]:5", "only an IPv6 address may go in brackets" },
        { "[fe80::1%]:5", "only an IPv6 address may go in brackets" },
        { "[fe80::1%a b]:5", "only an IPv6 address may go in brackets" },
        { "[]:5", "only an IPv6 address may go in brackets" },
        { "exa mple.com:1", "neither" },
        { " example.com:1", "neither" },
        { "-foo.com:1", "neither" },
        { "foo-.com:1", "neither" },
        { "foo..com:1", "neither" },
        { ".foo.com:1", "neither" },
        { "foo.com..:1", "neither" },
        { "a_b.com:1", "neither" },
        { "10.0.0.300:1", "neither" },
        { "1.2.3:1", "neither" },
        { "010.0.0.1:1", "neither" },
        { "b\xc3\xbcro.example:1", "neither" },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *host  = NULL;
        guint16          port  = 0;
        GError          *error = NULL;

        g_assert_true(wgm_endpoint_split(good[i].in, &host, &port, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(host, ==, good[i].host);
        g_assert_cmpuint(port, ==, good[i].port);
        /* Both outputs are optional. */
        g_assert_true(wgm_endpoint_split(good[i].in, NULL, NULL, NULL));
    }
    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        char   *host  = (char *)"untouched";
        guint16 port  = 7;
        GError *error = NULL;

        {
            g_autofree char *q = wgm_error_quote_value(bad[i].in);

            g_test_message("bad endpoint %s", q);
        }
        g_assert_false(wgm_endpoint_split(bad[i].in, &host, &port, &error));
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_assert_nonnull(strstr(error->message, bad[i].expect));
        g_assert_cmpstr(host, ==, "untouched");
        g_assert_cmpuint(port, ==, 7);
        g_clear_error(&error);
    }

    /* 253 characters of name is the limit (without the trailing dot). */
    a       = g_strnfill(63, 'a');
    d61     = g_strnfill(61, 'd');
    d62     = g_strnfill(62, 'd');
    long_ok = g_strdup_printf("%s.%s.%s.%s:1", a, a, a, d61);
    g_assert_true(wgm_endpoint_split(long_ok, NULL, NULL, NULL));
    long_ok_dot = g_strdup_printf("%s.%s.%s.%s.:1", a, a, a, d61);
    g_assert_true(wgm_endpoint_split(long_ok_dot, NULL, NULL, NULL));
    long_bad = g_strdup_printf("%s.%s.%s.%s:1", a, a, a, d62);
    g_assert_false(wgm_endpoint_split(long_bad, NULL, NULL, NULL));
    label64 = g_strdup_printf("%sa.example:1", a);
    g_assert_false(wgm_endpoint_split(label64, NULL, NULL, NULL));
}

static void
test_ip_endpoint_parse(void)
{
    static const struct {
        const char *in;
        const char *out;
    } good[] = {
        { "1.2.3.4:51820", "1.2.3.4:51820" },
        { "[fd00::1]:51820", "[fd00::1]:51820" },
        { "[FD00:0::1]:1", "[fd00::1]:1" },
        { "1.2.3.4:051820", "1.2.3.4:51820" },
    };
    static const char *const bad[] = {
        "example.com:51820", "[fe80::1%eth0]:1", "fd00::1:51820", "1.2.3.4:0", "1.2.3.4",
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(good); i++) {
        WgmEndpoint ep;
        WgmEndpoint again;
        char        buf[WGM_IP_STRLEN];
        GError     *error = NULL;

        g_assert_true(wgm_endpoint_parse(good[i].in, &ep, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(wgm_endpoint_to_string(&ep, buf), ==, good[i].out);
        g_assert_true(wgm_endpoint_parse(buf, &again, NULL));
        g_assert_true(wgm_endpoint_equal(&ep, &again));
    }
    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        WgmEndpoint ep    = { .port = 9 };
        GError     *error = NULL;

        g_assert_false(wgm_endpoint_parse(bad[i], &ep, &error));
        g_assert_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING);
        g_assert_cmpuint(ep.port, ==, 9);
        g_clear_error(&error);
    }
    {
        GError     *error = NULL;
        WgmEndpoint ep;

        g_assert_false(wgm_endpoint_parse("example.com:1", &ep, &error));
        g_assert_nonnull(strstr(error->message, "host names are not allowed here"));
        g_clear_error(&error);
    }
}

static void
test_ip_endpoint_equal(void)
{
    WgmEndpoint a, b, c, d;

    g_assert_true(wgm_endpoint_parse("1.2.3.4:1", &a, NULL));
    g_assert_true(wgm_endpoint_parse("1.2.3.4:1", &b, NULL));
    g_assert_true(wgm_endpoint_parse("1.2.3.4:2", &c, NULL));
    g_assert_true(wgm_endpoint_parse("[::ffff:1.2.3.4]:1", &d, NULL));
    g_assert_true(wgm_endpoint_equal(&a, &b));
    g_assert_false(wgm_endpoint_equal(&a, &c));
    g_assert_false(wgm_endpoint_equal(&a, &d));
}

/* ------------------------------------------------------------------------ */
/* Errors */

static void
test_error_dbus(void)
{
    static const struct {
        WgmError    code;
        const char *name;
    } cases[] = {
        { WGM_ERROR_FAILED, "org.freedesktop.NetworkManager.wgmesh.Error.Failed" },
        { WGM_ERROR_INVALID_SETTING, "org.freedesktop.NetworkManager.wgmesh.Error.InvalidSetting" },
        { WGM_ERROR_BACKEND, "org.freedesktop.NetworkManager.wgmesh.Error.Backend" },
        { WGM_ERROR_NOT_FOUND, "org.freedesktop.NetworkManager.wgmesh.Error.NotFound" },
        { WGM_ERROR_PROTOCOL, "org.freedesktop.NetworkManager.wgmesh.Error.Protocol" },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = g_error_new_literal(WGM_ERROR, cases[i].code, "boom");
        g_autoptr(GError) back  = NULL;
        g_autofree char *name   = g_dbus_error_encode_gerror(error);
        g_autofree char *remote = NULL;

        g_assert_cmpstr(name, ==, cases[i].name);
        back = g_dbus_error_new_for_dbus_error(cases[i].name, "boom");
        g_assert_error(back, WGM_ERROR, (int)cases[i].code);
        g_assert_true(g_dbus_error_is_remote_error(back));
        remote = g_dbus_error_get_remote_error(back);
        g_assert_cmpstr(remote, ==, cases[i].name);
        g_dbus_error_strip_remote_error(back);
        g_assert_cmpstr(back->message, ==, "boom");
    }
    g_assert_cmpuint(WGM_ERROR, ==, wgm_error_quark());
}

static void
test_error_quote(void)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        { "plain", "plain" },
        { "", "" },
        { "a\"b\\c", "a\\\"b\\\\c" },
        { "tab\there\n", "tab\\there\\n" },
        { "B\xc3\xbcro", "B\xc3\xbcro" },
        { "bad\xff", "bad\\377" },
        { "0123456789012345678901234567890123456789012345678901234567890123456789",
          "0123456789012345678901234567890123456789012345678901234567890123…" },
        /* Exactly 64 bytes: kept whole. */
        { "01234567890123456789012345678901234567890123456789012345678901\xc3\xbc",
          "01234567890123456789012345678901234567890123456789012345678901\xc3\xbc" },
        /* The cut lands inside "ü" (bytes 64-65): it moves back a character. */
        { "012345678901234567890123456789012345678901234567890123456789012\xc3\xbc",
          "012345678901234567890123456789012345678901234567890123456789012…" },
        { "0123456789012345678901234567890123456789012345678901234567890123\xc3\xbcxyz",
          "0123456789012345678901234567890123456789012345678901234567890123…" },
        { "012345678901234567890123456789012345678901234567890123456789012\xc3\xbcxyz",
          "012345678901234567890123456789012345678901234567890123456789012…" },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *q = wgm_error_quote_value(cases[i].in);

        g_assert_cmpstr(q, ==, cases[i].out);
    }
    {
        g_autofree char *q = wgm_error_quote_value(NULL);

        g_assert_cmpstr(q, ==, "(null)");
    }
}

/* Key pairs: a generated key is clamped like wg genkey's, and the public
 * key is the one wg(8) computes (RFC 7748 vector, and wg pubkey when the
 * wireguard-tools are installed). */
static void
test_key_pair(void)
{
    /* RFC 7748, section 6.1: Alice's private and public key. */
    static const char *alice_priv =
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    static const char *alice_pub =
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    g_autoptr(GError) error = NULL;
    g_autofree char *wg     = g_find_program_in_path("wg");
    WgmKey           priv, pub, want;
    char             hex[WGM_KEY_HEX_LEN + 1];

    g_assert_true(wgm_key_from_hex(alice_priv, WGM_KEY_HEX_LEN, &priv));
    g_assert_true(wgm_key_from_hex(alice_pub, WGM_KEY_HEX_LEN, &want));
    wgm_key_public_from_private(&priv, &pub);
    wgm_key_to_hex(&pub, hex);
    g_assert_cmpstr(hex, ==, alice_pub);

    for (int i = 0; i < 8; i++) {
        char b64[WGM_KEY_B64_LEN + 1], pub64[WGM_KEY_B64_LEN + 1];

        g_assert_true(wgm_key_generate_private(&priv, &error));
        g_assert_no_error(error);
        g_assert_cmpint(priv.bytes[0] & 7, ==, 0);
        g_assert_cmpint(priv.bytes[31] & 0xc0, ==, 0x40);
        wgm_key_public_from_private(&priv, &pub);
        if (!wg)
            continue;
        {
            g_autofree char *out        = NULL;
            g_autofree char *input      = NULL;
            const char      *argv[]     = { wg, "pubkey", NULL };
            g_autoptr(GSubprocess) proc = NULL;

            wgm_key_to_base64(&priv, b64);
            wgm_key_to_base64(&pub, pub64);
            input = g_strdup_printf("%s\n", b64);
            proc  = g_subprocess_newv(
                argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
            g_assert_no_error(error);
            g_assert_true(g_subprocess_communicate_utf8(proc, input, NULL, &out, NULL, &error));
            g_assert_no_error(error);
            g_assert_cmpstr(g_strstrip(out), ==, pub64);
        }
    }
    if (!wg)
        g_test_message("wg not installed: checked against RFC 7748 only");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/key/known-vector", test_key_known_vector);
    g_test_add_func("/key/round-trip", test_key_round_trip);
    g_test_add_func("/key/base64-bad", test_key_base64_bad);
    g_test_add_func("/key/base64-canonical", test_key_base64_canonical);
    g_test_add_func("/key/hex-bad", test_key_hex_bad);
    g_test_add_func("/key/hash-equal", test_key_hash_equal);
    g_test_add_func("/key/wipe", test_key_wipe);
    g_test_add_func("/ip/addr", test_ip_addr);
    g_test_add_func("/ip/prefix", test_ip_prefix);
    g_test_add_func("/ip/endpoint-split", test_ip_endpoint_split);
    g_test_add_func("/ip/endpoint-parse", test_ip_endpoint_parse);
    g_test_add_func("/ip/endpoint-equal", test_ip_endpoint_equal);
    g_test_add_func("/key/pair", test_key_pair);
    g_test_add_func("/error/dbus", test_error_dbus);
    g_test_add_func("/error/quote", test_error_quote);

    return g_test_run();
}

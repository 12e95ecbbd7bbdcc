/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzzes wgm_wgquick_read() in both modes and, for what it accepts as a
 * profile, wgm_wgquick_write().
 *
 * Input: a wg-quick file, as in the seed files of corpus-wgquick/.  Whatever
 * the input, the reader must not crash, leak or hit a g_return_if_fail();
 * what it accepts must be a valid profile (or valid peers) with the secrets
 * in vpn.secrets only, and read -> write -> read must give the same profile.
 */
#include <string.h>

#include "wgm-config.h"
#include "wgm-error.h"
#include "wgm-peer-config.h"
#include "wgm-settings-keys.h"
#include "wgm-wgquick.h"

#define FILENAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static guint
count_in(const char *haystack, const char *needle)
{
    guint       n = 0;
    const char *s = haystack;

    while ((s = strstr(s, needle))) {
        n++;
        s++;
    }
    return n;
}

/* A key after "PrivateKey =" or "PresharedKey =" that the input holds only
 * once must not be in @message (elsewhere, e.g. as an Endpoint, it may be
 * quoted legitimately). */
static void
check_message(const char *text, const char *message)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint i;

    for (i = 0; lines[i]; i++) {
        char       *eq = strchr(lines[i], '=');
        char       *hash;
        const char *value;

        if (!eq)
            continue;
        *eq = '\0';
        g_strstrip(lines[i]);
        if (g_ascii_strcasecmp(lines[i], "PrivateKey") != 0
            && g_ascii_strcasecmp(lines[i], "PresharedKey") != 0)
            continue;
        hash = strchr(eq + 1, '#');
        if (hash)
            *hash = '\0';
        value = g_strstrip(eq + 1);
        if (strlen(value) >= 16 && count_in(text, value) == 1)
            g_assert(!strstr(message, value));
    }
}

static void
check_keys(const WgmWgQuick *wq)
{
    GHashTableIter iter;
    gpointer       k, v;

    g_hash_table_iter_init(&iter, wq->data);
    while (g_hash_table_iter_next(&iter, &k, &v)) {
        const char *field;
        guint       index;

        g_assert(((const char *)v)[0]);
        g_assert(strcmp(k, WGM_KEY_PRIVATE_KEY) != 0);
        if (wgm_peer_key_split(k, &index, &field, NULL) == WGM_PEER_KEY_VALID) {
            g_assert(index >= 1 && index <= wq->n_peers);
            g_assert(strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY) != 0);
        }
    }
    g_hash_table_iter_init(&iter, wq->secrets);
    while (g_hash_table_iter_next(&iter, &k, &v)) {
        const char *field = NULL;
        guint       index;

        g_assert(strcmp(k, WGM_KEY_PRIVATE_KEY) == 0
                 || (wgm_peer_key_split(k, &index, &field, NULL) == WGM_PEER_KEY_VALID
                     && strcmp(field, WGM_PEER_FIELD_PRESHARED_KEY) == 0));
    }
}

static void
assert_hash_equal(GHashTable *a, GHashTable *b)
{
    GHashTableIter iter;
    gpointer       k, v;

    g_assert(g_hash_table_size(a) == g_hash_table_size(b));
    g_hash_table_iter_init(&iter, a);
    while (g_hash_table_iter_next(&iter, &k, &v))
        g_assert(g_strcmp0(g_hash_table_lookup(b, k), v) == 0);
}

/* read -> write -> read is the identity on what the reader makes. */
static void
check_round_trip(const WgmWgQuick *wq)
{
    g_autoptr(NMSettingVpn) s_vpn = wgm_wgquick_to_setting(wq);
    g_autoptr(WgmWgQuick) again   = NULL;
    g_autoptr(GError) error       = NULL;
    char *text;

    text = wgm_wgquick_write(s_vpn, &error);
    if (!text)
        g_error("the writer refused what the reader accepted: %s", error->message);
    again = wgm_wgquick_read(text, -1, FILENAME, WGM_WGQUICK_PROFILE, &error);
    if (!again)
        g_error("the reader refused what the writer wrote: %s", error->message);
    wgm_secret_free(text);
    assert_hash_equal(wq->data, again->data);
    assert_hash_equal(wq->secrets, again->secrets);
    g_assert(wq->n_peers == again->n_peers);
}

static void
run(const guint8 *data, size_t size, const char *text, WgmWgQuickMode mode)
{
    g_autoptr(WgmWgQuick) wq = NULL;
    g_autoptr(GError) error  = NULL;
    guint i;

    wq = wgm_wgquick_read((const char *)data, (gssize)size, FILENAME, mode, &error);
    if (!wq) {
        g_assert(error && error->domain == WGM_ERROR && error->code == WGM_ERROR_INVALID_SETTING);
        g_assert(g_utf8_validate(error->message, -1, NULL));
        g_assert(g_str_has_prefix(error->message, FILENAME ":"));
        check_message(text, error->message);
        return;
    }
    g_assert(!error);
    check_keys(wq);
    for (i = 0; i < wq->warnings->len; i++) {
        g_assert(g_str_has_prefix(wq->warnings->pdata[i], FILENAME ":"));
        check_message(text, wq->warnings->pdata[i]);
    }
    if (mode == WGM_WGQUICK_PROFILE)
        check_round_trip(wq);
    else
        g_assert(g_hash_table_size(wq->secrets) <= wq->n_peers);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    static gboolean  initialized;
    g_autofree char *text = NULL;

    if (!initialized) {
        /* A critical is a bug we want to see as a crash. */
        g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_FATAL_MASK);
        initialized = TRUE;
    }

    text = g_strndup((const char *)data, size);
    run(data, size, text, WGM_WGQUICK_PROFILE);
    run(data, size, text, WGM_WGQUICK_PEERS_ONLY);
    return 0;
}

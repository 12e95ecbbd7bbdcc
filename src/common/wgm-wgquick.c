/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-wgquick.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "wgm-config.h"
#include "wgm-error.h"
#include "wgm-key.h"
#include "wgm-parse.h"
#include "wgm-peer-config.h"
#include "wgm-settings-keys.h"
#include "wgm-wgquick-private.h"

#define UTF8_BOM "\xef\xbb\xbf"
/* Key names longer than this, or with other characters than a key name
 * has, are not quoted in messages: a malformed line may hold a secret. */
#define SHOWN_KEY_MAX 32

typedef enum {
    SECTION_NONE,
    SECTION_INTERFACE,
    SECTION_PEER,
} Section;

typedef struct {
    WgmWgQuick    *wq;
    char          *filename; /* valid UTF-8 */
    WgmWgQuickMode mode;
    guint          line;
    Section        section;
    guint          interface_line;
    GHashTable    *seen; /* canonical key name -> line, in this section */
    GString       *address;
    GString       *dns;
    GString       *dns_search;
    GHashTable    *public_keys; /* WgmKey* -> line */
    GArray        *peer_lines;  /* of guint: the [Peer] line of peer.N at N - 1 */
    WgmPeerConfig *peer;        /* the current [Peer], parsed for checks only */
    GString       *allowed_ips;
    guint          private_key_line;
    guint          mtu_line;
} Reader;

typedef gboolean (*LineFunc)(Reader *r, const char *name, const char *value, GError **error);

typedef struct {
    const char *name;
    Section     section;
    gboolean    repeatable;
    LineFunc    func;
} KeyInfo;

/* ------------------------------------------------------------------------ */
/* Messages */

static const char *
section_name(Section section)
{
    return section == SECTION_INTERFACE ? "[Interface]" : "[Peer]";
}

static gboolean fail_at(Reader *r, guint line, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean
fail_at(Reader *r, guint line, GError **error, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list          ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, WGM_ERROR, WGM_ERROR_INVALID_SETTING, "%s:%u: %s", r->filename, line, msg);
    return FALSE;
}

/* "Name: " for a name that looks like a key, else nothing (see SHOWN_KEY_MAX). */
static char *
shown_key(const char *name)
{
    gsize len = strlen(name);
    gsize i;

    if (len == 0 || len > SHOWN_KEY_MAX)
        return g_strdup("");
    for (i = 0; i < len; i++) {
        if (!g_ascii_isalnum(name[i]) && !strchr("-_.", name[i]))
            return g_strdup("");
    }
    return g_strconcat(name, ": ", NULL);
}

static void warn(Reader *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
warn(Reader *r, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list          ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(r->wq->warnings, g_strdup_printf("%s:%u: %s", r->filename, r->line, msg));
}

/* ------------------------------------------------------------------------ */
/* Values */

static void
set_data(Reader *r, const char *key, const char *value)
{
    g_hash_table_replace(r->wq->data, g_strdup(key), g_strdup(value));
}

static void
set_peer_data(Reader *r, const char *field, const char *value)
{
    g_hash_table_replace(r->wq->data,
                         g_strdup_printf(WGM_KEY_PEER_PREFIX "%u.%s", r->wq->n_peers, field),
                         g_strdup(value));
}

/* Items of a comma list, each stripped of the blanks the list's own
 * separators leave (a form feed, say), none empty. */
static char **
split_list(const char *value)
{
    g_auto(GStrv) items = wgm_parse_split_list(value);
    GPtrArray *out      = g_ptr_array_new();
    guint      i;

    for (i = 0; items[i]; i++) {
        g_strstrip(items[i]);
        if (items[i][0])
            g_ptr_array_add(out, g_strdup(items[i]));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* Appends the items of a comma list, and returns whether there were any. */
static gboolean
list_append(GString *list, const char *value)
{
    g_auto(GStrv) items = split_list(value);
    guint i;

    for (i = 0; items[i]; i++) {
        if (list->len > 0)
            g_string_append(list, ", ");
        g_string_append(list, items[i]);
    }
    return items[0] != NULL;
}

char *
wgm_wgquick_normalize_number(const char *digits)
{
    return g_strdup_printf("%" G_GUINT64_FORMAT, g_ascii_strtoull(digits, NULL, 10));
}

/* ------------------------------------------------------------------------ */
/* [Interface] */

static gboolean
on_private_key(Reader *r, const char *name, const char *value, GError **error)
{
    g_auto(WgmKey) key = { 0 };

    if (!wgm_key_from_base64(value, &key, error))
        return wgm_parse_fail_prefix(error, name);
    /* wg(8) reads an all-zero private key as "remove the key". */
    if (wgm_key_is_zero(&key))
        return wgm_parse_fail(error, name, _("is all zeros, which is not a private key"));
    g_hash_table_replace(r->wq->secrets, g_strdup(WGM_KEY_PRIVATE_KEY), g_strdup(value));
    /* NetworkManager stores a secret with flags 0 in the profile itself. */
    set_data(r, WGM_KEY_PRIVATE_KEY_FLAGS, "0");
    r->private_key_line = r->line;
    return TRUE;
}

static gboolean
on_address(Reader *r, const char *name, const char *value, GError **error)
{
    /* Checked as a whole, so a third address (or a second of one family)
     * on a line of its own is blamed on that line. */
    if (list_append(r->address, value)) {
        if (!wgm_config_check_value(WGM_KEY_ADDRESS, r->address->str, name, error))
            return FALSE;
        set_data(r, WGM_KEY_ADDRESS, r->address->str);
    }
    return TRUE;
}

static gboolean
on_dns(Reader *r, const char *name, const char *value, GError **error)
{
    g_auto(GStrv) items = split_list(value);
    guint i;

    /* What is not an address is a search domain, as NetworkManager imports it. */
    for (i = 0; items[i]; i++) {
        WgmIpAddr a;

        if (wgm_ip_addr_parse(items[i], &a)) {
            list_append(r->dns, items[i]);
        } else {
            if (!wgm_config_check_value(WGM_KEY_DNS_SEARCH, items[i], name, error))
                return FALSE;
            list_append(r->dns_search, items[i]);
        }
    }
    return TRUE;
}

static gboolean
on_mtu(Reader *r, const char *name, const char *value, GError **error)
{
    g_autofree char *mtu = NULL;

    if (!wgm_config_check_value(WGM_KEY_MTU, value, name, error))
        return FALSE;
    mtu = wgm_wgquick_normalize_number(value);
    set_data(r, WGM_KEY_MTU, mtu);
    r->mtu_line = r->line;
    return TRUE;
}

static gboolean
on_listen_port(Reader *r, const char *name, const char *value, GError **error)
{
    g_autofree char *port = NULL;
    guint32          u;

    /* 0 asks WireGuard to pick a port, as leaving listen-port out does. */
    if (!wgm_parse_uint(name, value, 0, G_MAXUINT16, &u, error))
        return FALSE;
    if (u == 0)
        return TRUE;
    port = wgm_wgquick_normalize_number(value);
    set_data(r, WGM_KEY_LISTEN_PORT, port);
    return TRUE;
}

static gboolean
on_table(Reader *r, const char *name, const char *value, GError **error)
{
    g_autofree char *quoted = NULL;

    if (g_ascii_strcasecmp(value, "auto") == 0)
        return TRUE;
    quoted = wgm_error_quote_value(value);
    g_set_error(error,
                WGM_ERROR,
                WGM_ERROR_INVALID_SETTING,
                _("%s = %s is not supported: the service adds routes through NetworkManager"),
                name,
                quoted);
    return FALSE;
}

static gboolean
on_fwmark(Reader *r, const char *name, const char *value, GError **error)
{
    g_autofree char *quoted = NULL;

    if (g_ascii_strcasecmp(value, "off") == 0 || strcmp(value, "0") == 0)
        return TRUE;
    quoted = wgm_error_quote_value(value);
    g_set_error(error,
                WGM_ERROR,
                WGM_ERROR_INVALID_SETTING,
                _("%s = %s is not supported: the service marks no packets (NetworkManager does "
                  "the routing)"),
                name,
                quoted);
    return FALSE;
}

static gboolean
on_hook(Reader *r, const char *name, const char *value, GError **error)
{
    warn(r, _("%s is ignored (wgmesh runs no hooks)"), name);
    return TRUE;
}

static gboolean
on_save_config(Reader *r, const char *name, const char *value, GError **error)
{
    if (g_ascii_strcasecmp(value, "false") != 0)
        warn(r, _("%s is ignored (wgmesh never writes the file back)"), name);
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* [Peer] */

static gboolean
on_public_key(Reader *r, const char *name, const char *value, GError **error)
{
    WgmKey  *key;
    gpointer line;

    if (!wgm_peer_config_parse_data(r->peer, name, WGM_PEER_FIELD_PUBLIC_KEY, value, error))
        return FALSE;
    if (g_hash_table_lookup_extended(r->public_keys, &r->peer->public_key, NULL, &line)) {
        return wgm_parse_fail(error,
                              name,
                              _("the same key as on line %u (a peer is listed twice)"),
                              GPOINTER_TO_UINT(line));
    }
    key  = g_new(WgmKey, 1);
    *key = r->peer->public_key;
    g_hash_table_insert(r->public_keys, key, GUINT_TO_POINTER(r->line));
    set_peer_data(r, WGM_PEER_FIELD_PUBLIC_KEY, value);
    return TRUE;
}

static gboolean
on_preshared_key(Reader *r, const char *name, const char *value, GError **error)
{
    if (!wgm_peer_config_parse_preshared_key(r->peer, name, value, error))
        return FALSE;
    g_hash_table_replace(
        r->wq->secrets,
        g_strdup_printf(WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PRESHARED_KEY, r->wq->n_peers),
        g_strdup(value));
    set_peer_data(r, WGM_PEER_FIELD_PRESHARED_KEY_FLAGS, "0");
    return TRUE;
}

static gboolean
on_endpoint(Reader *r, const char *name, const char *value, GError **error)
{
    if (!wgm_peer_config_parse_data(r->peer, name, WGM_PEER_FIELD_ENDPOINT, value, error))
        return FALSE;
    set_peer_data(r, WGM_PEER_FIELD_ENDPOINT, value);
    return TRUE;
}

static gboolean
on_allowed_ips(Reader *r, const char *name, const char *value, GError **error)
{
    if (!wgm_peer_config_parse_data(r->peer, name, WGM_PEER_FIELD_ALLOWED_IPS, value, error))
        return FALSE;
    /* Set once the [Peer] ends: a peer may have a line per prefix. */
    list_append(r->allowed_ips, value);
    return TRUE;
}

static gboolean
on_keepalive(Reader *r, const char *name, const char *value, GError **error)
{
    g_autofree char *seconds = NULL;

    if (g_ascii_strcasecmp(value, "off") == 0)
        return TRUE;
    if (!wgm_peer_config_parse_data(
            r->peer, name, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, value, error))
        return FALSE;
    if (r->peer->persistent_keepalive == 0)
        return TRUE;
    seconds = g_strdup_printf("%u", r->peer->persistent_keepalive);
    set_peer_data(r, WGM_PEER_FIELD_PERSISTENT_KEEPALIVE, seconds);
    return TRUE;
}

static gboolean
on_name(Reader *r, const char *name, const char *value, GError **error)
{
    if (!wgm_peer_config_parse_data(r->peer, name, WGM_PEER_FIELD_NAME, value, error))
        return FALSE;
    set_peer_data(r, WGM_PEER_FIELD_NAME, value);
    return TRUE;
}

static gboolean
on_lazy(Reader *r, const char *name, const char *value, GError **error)
{
    if (!wgm_peer_config_parse_data(r->peer, name, WGM_PEER_FIELD_LAZY, value, error))
        return FALSE;
    set_peer_data(r, WGM_PEER_FIELD_LAZY, r->peer->lazy ? "yes" : "no");
    return TRUE;
}

/* "# wgmesh: KEY = VALUE": a profile setting wg-quick has no word for. */
static gboolean
on_wgmesh(Reader *r, const char *name, const char *value, GError **error)
{
    if (r->section == SECTION_PEER) {
        if (!wgm_peer_config_parse_data(r->peer, name, name, value, error))
            return FALSE;
        set_peer_data(r, name, value);
        return TRUE;
    }
    if (!wgm_config_check_value(name, value, name, error))
        return FALSE;
    set_data(r, name, value);
    return TRUE;
}

static const KeyInfo wg_keys[] = {
    { "PrivateKey", SECTION_INTERFACE, FALSE, on_private_key },
    { "Address", SECTION_INTERFACE, TRUE, on_address },
    { "DNS", SECTION_INTERFACE, TRUE, on_dns },
    { "MTU", SECTION_INTERFACE, FALSE, on_mtu },
    { "ListenPort", SECTION_INTERFACE, FALSE, on_listen_port },
    { "Table", SECTION_INTERFACE, FALSE, on_table },
    { "FwMark", SECTION_INTERFACE, FALSE, on_fwmark },
    { "PreUp", SECTION_INTERFACE, TRUE, on_hook },
    { "PostUp", SECTION_INTERFACE, TRUE, on_hook },
    { "PreDown", SECTION_INTERFACE, TRUE, on_hook },
    { "PostDown", SECTION_INTERFACE, TRUE, on_hook },
    { "SaveConfig", SECTION_INTERFACE, FALSE, on_save_config },
    { "PublicKey", SECTION_PEER, FALSE, on_public_key },
    { "PresharedKey", SECTION_PEER, FALSE, on_preshared_key },
    { "Endpoint", SECTION_PEER, FALSE, on_endpoint },
    { "AllowedIPs", SECTION_PEER, TRUE, on_allowed_ips },
    { "PersistentKeepalive", SECTION_PEER, FALSE, on_keepalive },
};

/* Hints in comments of a [Peer], which wg-quick ignores. */
static const KeyInfo hints[] = {
    { "Name", SECTION_PEER, FALSE, on_name },
    { "Lazy", SECTION_PEER, FALSE, on_lazy },
};

/* What the writer keeps in "# wgmesh:" comments (wgm-wgquick-write.c). */
static const KeyInfo wgmesh_keys[] = {
    { WGM_KEY_BACKEND, SECTION_INTERFACE, FALSE, on_wgmesh },
    { WGM_KEY_LAZY_CONNECTIONS, SECTION_INTERFACE, FALSE, on_wgmesh },
    { WGM_KEY_INACTIVITY_TIMEOUT, SECTION_INTERFACE, FALSE, on_wgmesh },
    { WGM_KEY_GIVE_UP_AFTER, SECTION_INTERFACE, FALSE, on_wgmesh },
    { WGM_KEY_NETWORK_MAP, SECTION_INTERFACE, FALSE, on_wgmesh },
    { WGM_PEER_FIELD_GIVE_UP_AFTER, SECTION_PEER, FALSE, on_wgmesh },
};

/* ------------------------------------------------------------------------ */
/* Lines */

/* @section SECTION_NONE: any section. */
static const KeyInfo *
find_key(const KeyInfo *table, gsize n, const char *name, Section section)
{
    gsize i;

    for (i = 0; i < n; i++) {
        if (g_ascii_strcasecmp(name, table[i].name) == 0
            && (section == SECTION_NONE || section == table[i].section))
            return &table[i];
    }
    return NULL;
}

/* "A, B or C" of the keys of @section. */
static char *
expected_keys(const KeyInfo *table, gsize n, Section section)
{
    GString *s     = g_string_new(NULL);
    guint    count = 0, seen = 0;
    gsize    i;

    for (i = 0; i < n; i++)
        count += table[i].section == section;
    for (i = 0; i < n; i++) {
        if (table[i].section != section)
            continue;
        if (seen > 0)
            /* Translators: between the last two of a list of wg-quick keys,
             * "PublicKey, Endpoint or AllowedIPs"; mind the spaces. */
            g_string_append(s, seen + 1 == count ? _(" or ") : ", ");
        g_string_append(s, table[i].name);
        seen++;
    }
    return g_string_free(s, FALSE);
}

static gboolean
run_key(Reader *r, const KeyInfo *info, const char *value, GError **error)
{
    if (!value[0])
        return fail_at(r, r->line, error, _("%s: empty value"), info->name);
    if (!info->repeatable) {
        gpointer first;

        if (g_hash_table_lookup_extended(r->seen, info->name, NULL, &first))
            return fail_at(r,
                           r->line,
                           error,
                           _("%s: given twice in this section (first on line %u)"),
                           info->name,
                           GPOINTER_TO_UINT(first));
        g_hash_table_insert(r->seen, (gpointer)info->name, GUINT_TO_POINTER(r->line));
    }
    if (!info->func(r, info->name, value, error)) {
        g_prefix_error(error, "%s:%u: ", r->filename, r->line);
        return FALSE;
    }
    return TRUE;
}

static gboolean
process_key(Reader *r, const char *name, const char *value, GError **error)
{
    g_autofree char *shown    = shown_key(name);
    g_autofree char *expected = NULL;
    const KeyInfo   *info;

    if (r->section == SECTION_NONE)
        return fail_at(r,
                       r->line,
                       error,
                       /* Translators: the %s is the key and ": " ("Endpoint: "), or
                        * nothing; so is the first %s of the similar messages. */
                       _("%soutside any section (expected [Interface] or [Peer] before it)"),
                       shown);
    info = find_key(wg_keys, G_N_ELEMENTS(wg_keys), name, SECTION_NONE);
    if (info && info->section != r->section)
        return fail_at(r,
                       r->line,
                       error,
                       _("%s: belongs in %s, not in %s"),
                       info->name,
                       section_name(info->section),
                       section_name(r->section));
    if (info)
        return run_key(r, info, value, error);
    expected = expected_keys(wg_keys, G_N_ELEMENTS(wg_keys), r->section);
    return fail_at(r,
                   r->line,
                   error,
                   _("%sunknown key in %s (expected %s)"),
                   shown,
                   section_name(r->section),
                   expected);
}

/* A full-line comment: hints, and "# wgmesh: KEY = VALUE". */
static gboolean
process_comment(Reader *r, char *comment, GError **error)
{
    char          *eq = strchr(comment, '=');
    char          *name;
    char          *value;
    const KeyInfo *info;

    if (r->section == SECTION_NONE || !eq)
        return TRUE;
    *eq   = '\0';
    name  = g_strstrip(comment);
    value = g_strstrip(eq + 1);

    if (g_ascii_strncasecmp(name, WGM_WGQUICK_WGMESH_PREFIX, strlen(WGM_WGQUICK_WGMESH_PREFIX))
        == 0) {
        g_autofree char *shown    = NULL;
        g_autofree char *expected = NULL;

        name = g_strstrip(name + strlen(WGM_WGQUICK_WGMESH_PREFIX));
        info = find_key(wgmesh_keys, G_N_ELEMENTS(wgmesh_keys), name, r->section);
        if (info)
            return run_key(r, info, value, error);
        shown    = shown_key(name);
        expected = expected_keys(wgmesh_keys, G_N_ELEMENTS(wgmesh_keys), r->section);
        return fail_at(r,
                       r->line,
                       error,
                       /* Translators: "wgmesh: backend: no such setting in [Peer]
                        * (expected give-up-after)"; the first %s is "wgmesh:". */
                       _("%s %sno such setting in %s (expected %s)"),
                       WGM_WGQUICK_WGMESH_PREFIX,
                       shown,
                       section_name(r->section),
                       expected);
    }
    info = find_key(hints, G_N_ELEMENTS(hints), name, r->section);
    return !info || run_key(r, info, value, error);
}

static gboolean
finish_peer(Reader *r, GError **error)
{
    if (!r->peer)
        return TRUE;
    if (wgm_key_is_zero(&r->peer->public_key))
        return fail_at(r,
                       g_array_index(r->peer_lines, guint, r->peer_lines->len - 1),
                       error,
                       _("[Peer]: no PublicKey (every peer needs one)"));
    if (r->allowed_ips->len > 0)
        set_peer_data(r, WGM_PEER_FIELD_ALLOWED_IPS, r->allowed_ips->str);
    g_clear_pointer(&r->peer, wgm_peer_config_free);
    return TRUE;
}

static gboolean
start_peer(Reader *r, GError **error)
{
    if (r->wq->n_peers + 1 >= WGM_MAX_PEERS)
        return fail_at(
            r, r->line, error, _("[Peer]: too many peers (at most %u)"), WGM_MAX_PEERS - 1);
    r->wq->n_peers++;
    r->peer = wgm_peer_config_new(r->wq->n_peers);
    g_string_truncate(r->allowed_ips, 0);
    g_array_append_val(r->peer_lines, r->line);
    return TRUE;
}

static gboolean
process_section(Reader *r, char *line, GError **error)
{
    gsize            len   = strlen(line);
    g_autofree char *shown = NULL;
    char            *inner;

    if (line[len - 1] != ']')
        return fail_at(r, r->line, error, _("expected [Interface] or [Peer]"));
    line[len - 1] = '\0';
    inner         = g_strstrip(line + 1);

    if (!finish_peer(r, error))
        return FALSE;
    g_hash_table_remove_all(r->seen);

    if (g_ascii_strcasecmp(inner, "Interface") == 0) {
        if (r->mode == WGM_WGQUICK_PEERS_ONLY)
            return fail_at(r,
                           r->line,
                           error,
                           _("[Interface]: not allowed here (expected [Peer] sections only)"));
        if (r->interface_line)
            return fail_at(r,
                           r->line,
                           error,
                           _("[Interface]: a second [Interface] section (the first is on line %u)"),
                           r->interface_line);
        r->section        = SECTION_INTERFACE;
        r->interface_line = r->line;
        return TRUE;
    }
    if (g_ascii_strcasecmp(inner, "Peer") == 0) {
        r->section = SECTION_PEER;
        return start_peer(r, error);
    }
    shown = shown_key(inner);
    if (!shown[0])
        return fail_at(r, r->line, error, _("unknown section (expected [Interface] or [Peer])"));
    return fail_at(
        r, r->line, error, _("[%s]: unknown section (expected [Interface] or [Peer])"), inner);
}

static gboolean
process_line(Reader *r, char *line, GError **error)
{
    char *comment = strchr(line, '#');
    char *eq;

    /* As wg-quick: everything from the first '#' on is a comment. */
    if (comment)
        *comment++ = '\0';
    g_strstrip(line);
    if (!line[0])
        return !comment || process_comment(r, comment, error);
    if (line[0] == '[')
        return process_section(r, line, error);

    eq = strchr(line, '=');
    if (!eq)
        return fail_at(
            r, r->line, error, _("expected \"Key = Value\", a [Section] or a # comment"));
    *eq = '\0';
    return process_key(r, g_strstrip(line), g_strstrip(eq + 1), error);
}

/* ------------------------------------------------------------------------ */
/* The whole file */

static void
reader_clear(Reader *r)
{
    g_clear_pointer(&r->wq, wgm_wgquick_free);
    g_clear_pointer(&r->filename, g_free);
    g_clear_pointer(&r->seen, g_hash_table_unref);
    if (r->address)
        g_string_free(g_steal_pointer(&r->address), TRUE);
    if (r->dns)
        g_string_free(g_steal_pointer(&r->dns), TRUE);
    if (r->dns_search)
        g_string_free(g_steal_pointer(&r->dns_search), TRUE);
    if (r->allowed_ips)
        g_string_free(g_steal_pointer(&r->allowed_ips), TRUE);
    g_clear_pointer(&r->public_keys, g_hash_table_unref);
    g_clear_pointer(&r->peer_lines, g_array_unref);
    g_clear_pointer(&r->peer, wgm_peer_config_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Reader, reader_clear)

static WgmWgQuick *
wgquick_new(void)
{
    WgmWgQuick *wq = g_new0(WgmWgQuick, 1);

    wq->data = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    wq->secrets =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)wgm_secret_free);
    wq->warnings = g_ptr_array_new_with_free_func(g_free);
    return wq;
}

static void
reader_init(Reader *r, const char *filename, WgmWgQuickMode mode)
{
    r->wq          = wgquick_new();
    r->filename    = g_utf8_make_valid(filename ? filename : _("(wg-quick file)"), -1);
    r->mode        = mode;
    r->seen        = g_hash_table_new(g_str_hash, g_str_equal);
    r->address     = g_string_new(NULL);
    r->dns         = g_string_new(NULL);
    r->dns_search  = g_string_new(NULL);
    r->allowed_ips = g_string_new(NULL);
    r->public_keys = g_hash_table_new_full(wgm_key_hash, wgm_key_equal_func, g_free, NULL);
    r->peer_lines  = g_array_new(FALSE, FALSE, sizeof(guint));
}

static gboolean
read_lines(Reader *r, const char *contents, gsize len, GError **error)
{
    const char *p   = contents;
    const char *end = contents + len;

    if (len >= strlen(UTF8_BOM) && memcmp(p, UTF8_BOM, strlen(UTF8_BOM)) == 0)
        p += strlen(UTF8_BOM);

    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        gsize       n  = nl ? (gsize)(nl - p) : (gsize)(end - p);
        char       *line;
        gboolean    ok;

        r->line++;
        if (memchr(p, '\0', n))
            return fail_at(r, r->line, error, _("a NUL byte (expected a text file)"));
        /* "\r\n" ends a line; a lone "\r" is refused, as the writer could
         * not give it back. */
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (memchr(p, '\r', n))
            return fail_at(r, r->line, error, _("a carriage return inside the line"));
        line = g_strndup(p, n);
        ok   = process_line(r, line, error);
        /* The line may have held a key, and process_line() cut it up
         * with NULs: all of it is wiped, not up to the first one. */
        wgm_memzero(line, n);
        g_free(line);
        if (!ok)
            return FALSE;
        p = nl ? nl + 1 : end;
    }
    return finish_peer(r, error);
}

/* Puts an error of the whole profile on the line it is about: peer.N's
 * [Peer], or the MTU (too small for IPv6). */
static void
locate_error(Reader *r, GError **error)
{
    const char *s     = (*error)->message;
    char       *dot   = NULL;
    guint64     index = 0;

    if (g_str_has_prefix(s, WGM_KEY_MTU ": ") && r->mtu_line) {
        g_autofree char *msg = g_strdup_printf(
            "%s:%u: MTU: %s", r->filename, r->mtu_line, s + strlen(WGM_KEY_MTU ": "));

        g_free((*error)->message);
        (*error)->message = g_steal_pointer(&msg);
        return;
    }
    if (g_str_has_prefix(s, WGM_KEY_PEER_PREFIX)) {
        s += strlen(WGM_KEY_PEER_PREFIX);
        index = g_ascii_strtoull(s, &dot, 10);
    }
    if (dot && dot != s && *dot == '.' && index >= 1 && index <= r->peer_lines->len)
        g_prefix_error(
            error, "%s:%u: ", r->filename, g_array_index(r->peer_lines, guint, index - 1));
    else
        g_prefix_error(error, "%s: ", r->filename);
}

void
wgm_wgquick_add_placeholder_key(NMSettingVpn *s_vpn)
{
    WgmKey key;
    char   b64[WGM_KEY_B64_LEN + 1];

    /* Not a secret: it stands in for a key left out, so that the rest of
     * the profile can be checked. */
    memset(key.bytes, 0x01, sizeof(key.bytes));
    wgm_key_to_base64(&key, b64);
    nm_setting_vpn_add_secret(s_vpn, WGM_KEY_PRIVATE_KEY, b64);
}

/* The checks across keys, by the profile's own rules. */
static gboolean
check_profile(Reader *r, GError **error)
{
    g_autoptr(NMSettingVpn) s_vpn = NULL;
    g_autoptr(WgmConfig) config   = NULL;
    g_autoptr(GError) local       = NULL;

    if (!r->interface_line) {
        g_set_error(error,
                    WGM_ERROR,
                    WGM_ERROR_INVALID_SETTING,
                    _("%s: no [Interface] section (expected one, with this host's PrivateKey "
                      "and Address)"),
                    r->filename);
        return FALSE;
    }
    if (!g_hash_table_contains(r->wq->data, WGM_KEY_ADDRESS))
        return fail_at(r,
                       r->interface_line,
                       error,
                       _("[Interface]: no Address (expected this host's address in the mesh, "
                         "e.g. 10.0.0.1/24)"));

    s_vpn = wgm_wgquick_to_setting(r->wq);
    if (!r->private_key_line) {
        r->line = r->interface_line;
        warn(r, _("[Interface] has no PrivateKey: add it to the profile before connecting"));
        wgm_wgquick_add_placeholder_key(s_vpn);
    }
    config = wgm_config_new_from_setting(s_vpn, &local);
    if (!config) {
        locate_error(r, &local);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return TRUE;
}

WgmWgQuick *
wgm_wgquick_read(const char    *contents,
                 gssize         len,
                 const char    *filename,
                 WgmWgQuickMode mode,
                 GError       **error)
{
    g_auto(Reader) r = { 0 };

    g_return_val_if_fail(contents || len == 0, NULL);
    g_return_val_if_fail(!error || !*error, NULL);

    reader_init(&r, filename, mode);
    if (!read_lines(&r, contents ? contents : "", len < 0 ? strlen(contents) : (gsize)len, error))
        return NULL;
    /* Set once: a file may have a DNS line per server. */
    if (r.dns->len > 0)
        set_data(&r, WGM_KEY_DNS, r.dns->str);
    if (r.dns_search->len > 0)
        set_data(&r, WGM_KEY_DNS_SEARCH, r.dns_search->str);
    if (mode == WGM_WGQUICK_PROFILE && !check_profile(&r, error))
        return NULL;
    /* Each [Peer] of a network map was checked line by line with the
     * profile's field parsers; the rest of the checks need a profile. */
    return g_steal_pointer(&r.wq);
}

void
wgm_wgquick_free(WgmWgQuick *wq)
{
    if (!wq)
        return;
    g_clear_pointer(&wq->data, g_hash_table_unref);
    /* The secrets table wipes its values. */
    g_clear_pointer(&wq->secrets, g_hash_table_unref);
    g_clear_pointer(&wq->warnings, g_ptr_array_unref);
    g_free(wq);
}

NMSettingVpn *
wgm_wgquick_to_setting(const WgmWgQuick *wq)
{
    NMSettingVpn  *s_vpn;
    GHashTableIter iter;
    gpointer       key, value;

    g_return_val_if_fail(wq, NULL);

    s_vpn = NM_SETTING_VPN(nm_setting_vpn_new());
    g_object_set(s_vpn, NM_SETTING_VPN_SERVICE_TYPE, WGM_VPN_SERVICE_TYPE, NULL);
    g_hash_table_iter_init(&iter, wq->data);
    while (g_hash_table_iter_next(&iter, &key, &value))
        nm_setting_vpn_add_data_item(s_vpn, key, value);
    g_hash_table_iter_init(&iter, wq->secrets);
    while (g_hash_table_iter_next(&iter, &key, &value))
        nm_setting_vpn_add_secret(s_vpn, key, value);
    return s_vpn;
}

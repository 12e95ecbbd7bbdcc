/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nm-wgmesh-auth-dialog: what NetworkManager's secret agents (GNOME Shell,
 * nm-applet, nmcli --ask) run for a wgmesh profile's secrets that
 * NetworkManager does not store (flags AGENT_OWNED or NOT_SAVED).
 *
 *   nm-wgmesh-auth-dialog -u UUID -n NAME -s SERVICE [--external-ui-mode] [-i] [-r] [-t HINT]...
 *
 * The agent writes the profile's vpn.data and the secrets it already has to
 * stdin (DATA_KEY=/DATA_VAL=, SECRET_KEY=/SECRET_VAL=, "=" continuation
 * lines, then DONE; docs/research/issue-11-gnome-editor.md, section 4).
 *
 * External-UI mode: the agent draws the prompt itself, so this only
 * describes it: a "[VPN Plugin UI]" key file (Version=2, Title,
 * Description, one group per secret named by its vpn.secrets key) on
 * stdout, exit 0.
 *
 * Legacy mode: with -i, prompt with GTK (libnma's password dialog); print
 * "key\nvalue\n" pairs and an empty pair, then wait for the agent's QUIT.
 * A non-zero exit means cancelled or failed.
 *
 * Secret values never reach stderr, and every copy made here is wiped.
 */
#define G_LOG_DOMAIN "nm-wgmesh-auth-dialog"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <NetworkManager.h>
#include <glib/gi18n.h>

#ifdef WGM_AUTH_DIALOG_GTK
#include <gtk/gtk.h>
#include <nma-vpn-password-dialog.h>
#endif

#include "wgm-key.h"
#include "wgm-parse.h"
#include "wgm-peer-config.h"
#include "wgm-settings-keys.h"

#define UI_GROUP     "VPN Plugin UI"
#define UI_VERSION   2 /* nm-applet and GNOME Shell accept exactly 2 */
#define HINT_MESSAGE "x-vpn-message:"
/* Legacy mode: the agent says QUIT once it has read the answer; openvpn's
 * dialog waits as long. */
#define QUIT_TIMEOUT_MS (20 * 1000)

typedef struct {
    char    *key;   /* its vpn.secrets key */
    char    *label; /* what the prompt calls it */
    char    *value; /* the agent's or the user's; wiped when freed */
    gboolean ask;   /* the user has to enter it (again) */
} Secret;

typedef struct {
    const char *name; /* of the profile */
    gboolean    interaction;
    gboolean    reprompt;
    GHashTable *data;    /* vpn.data as the agent wrote it */
    GHashTable *secrets; /* vpn.secrets the agent has (libnm wipes them) */
    char       *message; /* the prompt's description */
    GPtrArray  *asked;   /* of Secret*, in prompt order */
} Request;

static void
secret_free(Secret *secret)
{
    g_free(secret->key);
    g_free(secret->label);
    wgm_secret_free(secret->value);
    g_free(secret);
}

static void
request_clear(Request *req)
{
    g_clear_pointer(&req->data, g_hash_table_unref);
    g_clear_pointer(&req->secrets, g_hash_table_unref);
    g_clear_pointer(&req->message, g_free);
    g_clear_pointer(&req->asked, g_ptr_array_unref);
}

static int
fail(const char *message)
{
    g_printerr("%s: %s\n", g_get_prgname(), message);
    return EXIT_FAILURE;
}

/* ---- which secrets ------------------------------------------------------ */

/* The flags of secret @key, from its "<key>-flags" item (absent: NONE).
 * Flags that are not a number are the agent's input gone wrong: refused,
 * in the words Connect would use, rather than guessed. */
static gboolean
secret_flags(Request *req, const char *key, NMSettingSecretFlags *out, GError **error)
{
    g_autofree char *flags_key = g_strconcat(key, "-flags", NULL);
    const char      *value     = g_hash_table_lookup(req->data, flags_key);

    *out = NM_SETTING_SECRET_FLAG_NONE;
    if (!value)
        return TRUE;
    if (!wgm_parse_secret_flags(flags_key, value, error))
        return FALSE;
    nm_vpn_service_plugin_get_secret_flags(req->data, key, out);
    return TRUE;
}

static char *
peer_data(Request *req, guint index, const char *field)
{
    g_autofree char *key = g_strdup_printf(WGM_KEY_PEER_PREFIX "%u.%s", index, field);
    const char      *v   = g_hash_table_lookup(req->data, key);

    return v && v[0] ? g_strdup(v) : NULL;
}

/* A peer by its name, else by the start of its public key, as the editor
 * and the logs show it. */
static char *
peer_label(Request *req, guint index)
{
    g_autofree char *name = peer_data(req, index, WGM_PEER_FIELD_NAME);
    g_autofree char *pub  = NULL;

    if (!name) {
        pub = peer_data(req, index, WGM_PEER_FIELD_PUBLIC_KEY);
        if (pub && strlen(pub) > WGM_KEY_SHORT_LEN)
            pub[WGM_KEY_SHORT_LEN] = '\0';
    }
    if (name || pub)
        return g_strdup_printf(_("Preshared key of peer “%s”"), name ? name : pub);
    return g_strdup_printf(_("Preshared key of peer %u"), index);
}

static gboolean
is_asked(Request *req, const char *key)
{
    for (guint i = 0; i < req->asked->len; i++) {
        if (g_str_equal(((Secret *)req->asked->pdata[i])->key, key))
            return TRUE;
    }
    return FALSE;
}

/* Adds @key (the private key, or the preshared key of peer @index) unless
 * it is there already.  @force: the service named it, so it is asked even
 * when the agent has a value (the value was refused). */
static void
add_secret(Request *req, const char *key, guint index, gboolean force)
{
    Secret     *secret;
    const char *value;

    if (is_asked(req, key))
        return;
    secret      = g_new0(Secret, 1);
    secret->key = g_strdup(key);
    secret->label =
        g_str_equal(key, WGM_KEY_PRIVATE_KEY) ? g_strdup(_("Private key")) : peer_label(req, index);
    value         = g_hash_table_lookup(req->secrets, key);
    secret->value = value && value[0] ? g_strdup(value) : NULL;
    secret->ask   = force || req->reprompt || !secret->value;
    g_ptr_array_add(req->asked, secret);
}

/* Hints name the secrets the service wants (new) values for, and may carry
 * the message to show.  Returns whether any named a secret of ours. */
static gboolean
collect_hinted(Request *req, const char *const *hints)
{
    gboolean any = FALSE;

    for (; hints && *hints; hints++) {
        const char *hint = *hints;
        const char *field;
        guint       index;

        if (g_str_has_prefix(hint, HINT_MESSAGE)) {
            if (!req->message && hint[strlen(HINT_MESSAGE)])
                req->message = g_strdup(hint + strlen(HINT_MESSAGE));
        } else if (g_str_equal(hint, WGM_KEY_PRIVATE_KEY)) {
            add_secret(req, hint, 0, TRUE);
            any = TRUE;
        } else if (wgm_peer_key_split(hint, &index, &field, NULL) == WGM_PEER_KEY_VALID
                   && g_str_equal(field, WGM_PEER_FIELD_PRESHARED_KEY)) {
            add_secret(req, hint, index, TRUE);
            any = TRUE;
        }
    }
    return any;
}

/* Indexes N of the peers in vpn.data (those with a peer.N.public-key), sorted. */
static GArray *
peer_indexes(Request *req)
{
    g_autofree const char **keys = (const char **)g_hash_table_get_keys_as_array(req->data, NULL);

    return wgm_peer_indexes(keys, WGM_PEER_FIELD_PUBLIC_KEY);
}

/* Without hints: the private key unless it is NOT_REQUIRED, and each peer's
 * preshared key that an agent or the user provides (a preshared key is
 * optional, so only its flags make it needed). */
static gboolean
collect_by_flags(Request *req, GError **error)
{
    g_autoptr(GArray) indexes = NULL;
    NMSettingSecretFlags flags;

    if (!secret_flags(req, WGM_KEY_PRIVATE_KEY, &flags, error))
        return FALSE;
    if (!(flags & NM_SETTING_SECRET_FLAG_NOT_REQUIRED))
        add_secret(req, WGM_KEY_PRIVATE_KEY, 0, FALSE);

    indexes = peer_indexes(req);
    for (guint i = 0; i < indexes->len; i++) {
        guint            index = g_array_index(indexes, guint, i);
        g_autofree char *key =
            g_strdup_printf(WGM_KEY_PEER_PREFIX "%u." WGM_PEER_FIELD_PRESHARED_KEY, index);

        if (!secret_flags(req, key, &flags, error))
            return FALSE;
        if ((flags & (NM_SETTING_SECRET_FLAG_AGENT_OWNED | NM_SETTING_SECRET_FLAG_NOT_SAVED))
            && !(flags & NM_SETTING_SECRET_FLAG_NOT_REQUIRED))
            add_secret(req, key, index, FALSE);
    }
    return TRUE;
}

static gboolean
collect(Request *req, const char *const *hints, GError **error)
{
    req->asked = g_ptr_array_new_with_free_func((GDestroyNotify)secret_free);
    if (!collect_hinted(req, hints) && !collect_by_flags(req, error))
        return FALSE;
    if (!req->message) {
        if (req->asked->len == 1 && is_asked(req, WGM_KEY_PRIVATE_KEY))
            req->message = g_strdup_printf(_("The private key of “%s” is needed."), req->name);
        else
            req->message =
                g_strdup_printf(_("Secrets of the WireGuard mesh “%s” are needed."), req->name);
    }
    return TRUE;
}

/* ---- external-UI mode --------------------------------------------------- */

/* A key file value, escaped as GKeyFile reads it back.  Written here rather
 * than by a GKeyFile so that no copy of a secret outlives the wiped output. */
static void
kf_append_value(GString *out, const char *value)
{
    const char *p = value;

    /* GKeyFile drops leading blanks unless escaped. */
    for (; *p == ' ' || *p == '\t'; p++)
        g_string_append(out, *p == ' ' ? "\\s" : "\\t");
    for (; *p; p++) {
        switch (*p) {
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            g_string_append_c(out, *p);
        }
    }
}

static void
kf_append(GString *out, const char *key, const char *value)
{
    g_string_append_printf(out, "%s=", key);
    kf_append_value(out, value);
    g_string_append_c(out, '\n');
}

static void
kf_append_entry(GString    *out,
                const char *group,
                const char *value,
                const char *label,
                gboolean    should_ask)
{
    g_string_append_printf(out, "\n[%s]\n", group);
    kf_append(out, "Value", value ? value : "");
    kf_append(out, "Label", label);
    kf_append(out, "IsSecret", "true");
    kf_append(out, "ShouldAsk", should_ask ? "true" : "false");
}

static void
write_out(GString *out)
{
    fwrite(out->str, 1, out->len, stdout);
    fflush(stdout);
    wgm_secret_gstring_free(out);
}

/* Each group is a vpn.secrets key the agent sets from what the user enters
 * (ShouldAsk) or from Value.  None needed: openvpn's "no-secret" entry, so
 * the agent still answers with something (the service ignores it).  Title
 * and Description always: nmcli refuses the file without them. */
static void
print_external(Request *req)
{
    GString         *out   = g_string_new(NULL);
    g_autofree char *title = g_strdup_printf(_("Authenticate VPN “%s”"), req->name);

    g_string_append_printf(out, "[" UI_GROUP "]\nVersion=%d\n", UI_VERSION);
    kf_append(out, "Title", title);
    kf_append(out, "Description", req->message);
    if (req->asked->len == 0)
        kf_append_entry(out, WGM_KEY_NO_SECRET, "true", "", FALSE);
    for (guint i = 0; i < req->asked->len; i++) {
        Secret *s = req->asked->pdata[i];

        kf_append_entry(out, s->key, s->value, s->label, s->ask && req->interaction);
    }
    write_out(out);
}

/* ---- legacy mode -------------------------------------------------------- */

#ifdef WGM_AUTH_DIALOG_GTK

/* libnma's dialog has three entries; more secrets take more rounds. */
#define PROMPT_FIELDS 3

typedef struct {
    void (*show)(NMAVpnPasswordDialog *dialog, gboolean show);
    void (*set_label)(NMAVpnPasswordDialog *dialog, const char *label);
    void (*set)(NMAVpnPasswordDialog *dialog, const char *value);
    const char *(*get)(NMAVpnPasswordDialog *dialog);
    void (*focus)(NMAVpnPasswordDialog *dialog);
} Field;

static const Field fields[PROMPT_FIELDS] = {
    { nma_vpn_password_dialog_set_show_password,
      nma_vpn_password_dialog_set_password_label,
      nma_vpn_password_dialog_set_password,
      nma_vpn_password_dialog_get_password,
      nma_vpn_password_dialog_focus_password },
    { nma_vpn_password_dialog_set_show_password_secondary,
      nma_vpn_password_dialog_set_password_secondary_label,
      nma_vpn_password_dialog_set_password_secondary,
      nma_vpn_password_dialog_get_password_secondary,
      nma_vpn_password_dialog_focus_password_secondary },
    { nma_vpn_password_dialog_set_show_password_ternary,
      nma_vpn_password_dialog_set_password_ternary_label,
      nma_vpn_password_dialog_set_password_ternary,
      nma_vpn_password_dialog_get_password_ternary,
      nma_vpn_password_dialog_focus_password_ternary },
};

static void
dialog_destroy(GtkWidget *dialog)
{
#if GTK_CHECK_VERSION(4, 0, 0)
    gtk_window_destroy(GTK_WINDOW(dialog));
#else
    gtk_widget_destroy(dialog);
#endif
}

/* Takes the entries' values (surrounding blanks, as pasted, dropped), so a
 * dialog shown again keeps what was typed.  Returns the index of the first
 * that is not a WireGuard key, -1 if all are. */
static int
take_values(NMAVpnPasswordDialog *dialog, Secret **batch, guint n)
{
    int bad = -1;

    for (guint i = 0; i < n; i++) {
        g_auto(WgmKey) key = { 0 };

        wgm_secret_free(batch[i]->value);
        batch[i]->value = g_strstrip(g_strdup(fields[i].get(dialog)));
        if (bad < 0 && !wgm_key_from_base64(batch[i]->value, &key, NULL))
            bad = (int)i;
    }
    return bad;
}

/* One dialog for up to PROMPT_FIELDS secrets, shown again until every
 * entry holds a key.  FALSE: cancelled. */
static gboolean
prompt_batch(Request *req, Secret **batch, guint n)
{
    g_autofree char *title   = g_strdup_printf(_("Authenticate VPN “%s”"), req->name);
    g_autofree char *message = g_strdup(req->message);
    int              bad     = -1;

    for (;;) {
        GtkWidget *dialog = nma_vpn_password_dialog_new(title, message, NULL);
        gboolean   ok;

        for (guint i = 0; i < PROMPT_FIELDS; i++) {
            fields[i].show(NMA_VPN_PASSWORD_DIALOG(dialog), i < n);
            if (i >= n)
                continue;
            fields[i].set_label(NMA_VPN_PASSWORD_DIALOG(dialog), batch[i]->label);
            fields[i].set(NMA_VPN_PASSWORD_DIALOG(dialog), batch[i]->value ? batch[i]->value : "");
        }
        gtk_widget_show(dialog);
        if (bad >= 0)
            fields[bad].focus(NMA_VPN_PASSWORD_DIALOG(dialog));
        ok = nma_vpn_password_dialog_run_and_block(NMA_VPN_PASSWORD_DIALOG(dialog));
        if (ok)
            bad = take_values(NMA_VPN_PASSWORD_DIALOG(dialog), batch, n);
        dialog_destroy(dialog);
        if (!ok)
            return FALSE;
        if (bad < 0)
            return TRUE;
        g_free(message);
        message = g_strdup_printf(
            _("%s is not a WireGuard key (44 characters of base64, as “wg genkey” prints)."),
            batch[bad]->label);
    }
}

static gboolean
prompt_user(Request *req, GError **error)
{
    Secret *batch[PROMPT_FIELDS];
    guint   n = 0;

#if GTK_CHECK_VERSION(4, 0, 0)
    gboolean ready = gtk_init_check();
#else
    gboolean ready = gtk_init_check(NULL, NULL);
#endif
    if (!ready) {
        g_set_error(error,
                    G_IO_ERROR,
                    G_IO_ERROR_NOT_CONNECTED,
                    _("cannot open a display to ask for the secrets of “%s”"),
                    req->name);
        return FALSE;
    }
    for (guint i = 0; i <= req->asked->len; i++) {
        Secret *s = i < req->asked->len ? req->asked->pdata[i] : NULL;

        if (s && s->ask)
            batch[n++] = s;
        if (n == PROMPT_FIELDS || (!s && n > 0)) {
            if (!prompt_batch(req, batch, n)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("cancelled"));
                return FALSE;
            }
            n = 0;
        }
    }
    return TRUE;
}

#else /* !WGM_AUTH_DIALOG_GTK */

static gboolean
prompt_user(Request *req, GError **error)
{
    g_set_error(error,
                G_IO_ERROR,
                G_IO_ERROR_NOT_SUPPORTED,
                _("built without GTK: cannot ask for the secrets of “%s” (use an agent that "
                  "supports external UI mode)"),
                req->name);
    return FALSE;
}

#endif /* WGM_AUTH_DIALOG_GTK */

/* The agent reads the answer, then writes QUIT: until then, exiting early
 * would make it see a failure.  Bounded, as the agent may never say it. */
static void
wait_for_quit(void)
{
    gint64   deadline = g_get_monotonic_time() + QUIT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
    GString *seen     = g_string_new(NULL);

    while (!strstr(seen->str, "QUIT") && seen->len < 64) {
        gint64        left = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
        struct pollfd pfd  = { .fd = STDIN_FILENO, .events = POLLIN };
        char          buf[16];
        ssize_t       n;

        if (left <= 0)
            break;
        if (poll(&pfd, 1, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        g_string_append_len(seen, buf, n);
    }
    g_string_free(seen, TRUE);
}

/* "key\nvalue\n" per secret, then an empty pair.  None asked: openvpn's
 * "no-secret" pair, so the agent answers with something. */
static gboolean
print_legacy(Request *req, GError **error)
{
    GString *out = g_string_new(NULL);

    if (req->asked->len == 0)
        g_string_append(out, WGM_KEY_NO_SECRET "\ntrue\n");
    for (guint i = 0; i < req->asked->len; i++) {
        Secret *s = req->asked->pdata[i];

        /* One line each: a newline would shift every pair after it. */
        if (strchr(s->value, '\n')) {
            wgm_secret_gstring_free(out);
            g_set_error(error,
                        G_IO_ERROR,
                        G_IO_ERROR_INVALID_DATA,
                        _("%s: the value spans several lines, which no WireGuard key does"),
                        s->key);
            return FALSE;
        }
        g_string_append_printf(out, "%s\n%s\n", s->key, s->value);
    }
    g_string_append(out, "\n\n");
    write_out(out);
    return TRUE;
}

static gboolean
run_legacy(Request *req, GError **error)
{
    gboolean prompt = FALSE;

    for (guint i = 0; i < req->asked->len; i++) {
        Secret *s = req->asked->pdata[i];

        /* Without -i a value the agent has is the best there is. */
        if (s->ask && req->interaction)
            prompt = TRUE;
        if (!s->value && !req->interaction) {
            g_set_error(error,
                        G_IO_ERROR,
                        G_IO_ERROR_PERMISSION_DENIED,
                        _("“%s” needs %s, but asking is not allowed (no -i)"),
                        req->name,
                        s->key);
            return FALSE;
        }
    }
    if (prompt && !prompt_user(req, error))
        return FALSE;
    if (!print_legacy(req, error))
        return FALSE;
    wait_for_quit();
    return TRUE;
}

/* ---- main --------------------------------------------------------------- */

typedef struct {
    char    *uuid;
    char    *name;
    char    *service;
    gboolean external_ui;
    gboolean interaction;
    gboolean reprompt;
    char   **hints;
} Options;

static void
options_clear(Options *opts)
{
    g_free(opts->uuid);
    g_free(opts->name);
    g_free(opts->service);
    g_strfreev(opts->hints);
}

static gboolean
parse_options(int *argc, char ***argv, Options *opts, GError **error)
{
    const GOptionEntry entries[] = {
        { "uuid", 'u', 0, G_OPTION_ARG_STRING, &opts->uuid, N_("UUID of the profile"), "UUID" },
        { "name", 'n', 0, G_OPTION_ARG_STRING, &opts->name, N_("Name of the profile"), "NAME" },
        { "service",
          's',
          0,
          G_OPTION_ARG_STRING,
          &opts->service,
          N_("VPN service type"),
          "SERVICE" },
        { "external-ui-mode",
          0,
          0,
          G_OPTION_ARG_NONE,
          &opts->external_ui,
          N_("Describe the prompt for the agent instead of showing it"),
          NULL },
        { "allow-interaction",
          'i',
          0,
          G_OPTION_ARG_NONE,
          &opts->interaction,
          N_("Allow asking the user"),
          NULL },
        { "reprompt",
          'r',
          0,
          G_OPTION_ARG_NONE,
          &opts->reprompt,
          N_("Ask again for secrets the agent has"),
          NULL },
        { "hint",
          't',
          0,
          G_OPTION_ARG_STRING_ARRAY,
          &opts->hints,
          N_("A hint from the VPN service (a vpn.secrets key, or x-vpn-message:TEXT)"),
          "HINT" },
        { NULL },
    };
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);

    g_option_context_set_summary(context,
                                 _("Asks for the secrets of a WireGuard mesh profile on behalf "
                                   "of a NetworkManager secret agent."));
    g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(context, argc, argv, error))
        return FALSE;
    if (!opts->uuid || !opts->name || !opts->service) {
        g_set_error(error,
                    G_OPTION_ERROR,
                    G_OPTION_ERROR_FAILED,
                    _("-u UUID, -n NAME and -s SERVICE are required"));
        return FALSE;
    }
    if (!g_str_equal(opts->service, WGM_VPN_SERVICE_TYPE)) {
        g_set_error(error,
                    G_OPTION_ERROR,
                    G_OPTION_ERROR_BAD_VALUE,
                    _("this dialog is for the service %s, not %s"),
                    WGM_VPN_SERVICE_TYPE,
                    opts->service);
        return FALSE;
    }
    return TRUE;
}

static void
setup_i18n(void)
{
    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
}

int
main(int argc, char *argv[])
{
    Options opts            = { 0 };
    Request req             = { 0 };
    g_autoptr(GError) error = NULL;
    int status              = EXIT_SUCCESS;

    setup_i18n();
    g_set_prgname("nm-wgmesh-auth-dialog");

    if (!parse_options(&argc, &argv, &opts, &error)) {
        status = fail(error->message);
        goto out;
    }
    if (!nm_vpn_service_plugin_read_vpn_details(STDIN_FILENO, &req.data, &req.secrets)) {
        g_autofree char *msg = g_strdup_printf(
            _("could not read the data and secrets of “%s” (%s) from stdin (expected "
              "DATA_KEY=/DATA_VAL= and SECRET_KEY=/SECRET_VAL= lines, then DONE)"),
            opts.name,
            opts.uuid);

        status = fail(msg);
        goto out;
    }
    req.name        = opts.name;
    req.interaction = opts.interaction;
    req.reprompt    = opts.reprompt;
    if (!collect(&req, (const char *const *)opts.hints, &error)) {
        status = fail(error->message);
        goto out;
    }

    if (opts.external_ui)
        print_external(&req);
    else if (!run_legacy(&req, &error))
        status = fail(error->message);

out:
    request_clear(&req);
    options_clear(&opts);
    return status;
}

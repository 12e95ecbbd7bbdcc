/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The built nm-wgmesh-auth-dialog, run the way NetworkManager's secret
 * agents run it: nmcli's argv (-u UUID -n NAME -s SERVICE
 * --external-ui-mode -i), the profile on stdin as the agents write it
 * (DATA_KEY=/DATA_VAL= pairs, blank lines, SECRET_KEY=/SECRET_VAL=, "="
 * continuation lines, DONE, QUIT), and its answer read back with GKeyFile
 * as nm-applet, GNOME Shell and nmcli read it.  In legacy mode the agent
 * reads "key\nvalue\n" pairs, then says QUIT.  No display: the dialog must
 * never need one here.
 */
#include <signal.h>
#include <string.h>

#include <gio/gio.h>

#define UUID    "3f2b3c1e-0d7a-4b4e-9c55-2a3c6c8e9f10"
#define SERVICE "org.freedesktop.NetworkManager.wgmesh"
#define PRIV    "8I46Pf0oR5ITg1FpXuGYVcjS7z5rEsx2YmrcVbQ9iUc="
#define PUB1    "pPuiF6dSmqSzn11tpl8qJUNAacVVaS460WlScc6r214="
#define PUB2    "CW8COZql9EH6Hq8Og8O3edFwZBWNA/515w9CmTK4plI="
#define PUB3    "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PSK1    "iBqyJc2owvl0ST4ktC5p3wBiG+eofogw8KQoa12/HHs="
#define PSK2    "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
#define UI      "VPN Plugin UI"

/* ---- what an agent writes ------------------------------------------------ */

/* One item as nm-secret-agent-simple.c writes it: a value's further lines
 * as "=line" continuation lines, then a blank line. */
static void
add_item(GString *in, const char *kind, const char *key, const char *value)
{
    g_auto(GStrv) lines = g_strsplit(value, "\n", -1);

    g_string_append_printf(in, "%s_KEY=%s\n%s_VAL=%s\n", kind, key, kind, lines[0]);
    for (guint i = 1; lines[i]; i++)
        g_string_append_printf(in, "=%s\n", lines[i]);
    g_string_append_c(in, '\n');
}

/* @data and @secrets: NULL-terminated key, value, key, value... lists. */
static char *
agent_input(const char *const *data, const char *const *secrets, const char *end)
{
    GString *in = g_string_new(NULL);

    for (guint i = 0; data && data[i]; i += 2)
        add_item(in, "DATA", data[i], data[i + 1]);
    for (guint i = 0; secrets && secrets[i]; i += 2)
        add_item(in, "SECRET", secrets[i], secrets[i + 1]);
    g_string_append(in, end);
    return g_string_free(in, FALSE);
}

/* ---- running the dialog -------------------------------------------------- */

static GSubprocess *
spawn(const char *const *args)
{
    g_autoptr(GSubprocessLauncher) launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                  | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autofree char *bin =
        g_test_build_filename(G_TEST_BUILT, "..", "auth-dialog", "nm-wgmesh-auth-dialog", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error   = NULL;
    GSubprocess *proc;

    /* No display to fall back on, and the messages in English. */
    g_subprocess_launcher_unsetenv(launcher, "DISPLAY");
    g_subprocess_launcher_unsetenv(launcher, "WAYLAND_DISPLAY");
    g_subprocess_launcher_unsetenv(launcher, "LANGUAGE");
    g_subprocess_launcher_setenv(launcher, "LC_ALL", "C.UTF-8", TRUE);

    g_ptr_array_add(argv, bin);
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);
    proc = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
    g_assert_no_error(error);
    return proc;
}

typedef struct {
    int   status; /* exit status; -1 if killed by a signal */
    char *out;
    char *err;
} Result;

static void
result_clear(Result *r)
{
    g_free(r->out);
    g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Result, result_clear)

/* Runs the dialog with @input on stdin (closed after it), to its end. */
static void
run(const char *const *args, const char *input, Result *r)
{
    g_autoptr(GSubprocess) proc = spawn(args);
    g_autoptr(GError) error     = NULL;

    g_subprocess_communicate_utf8(proc, input, NULL, &r->out, &r->err, &error);
    g_assert_no_error(error);
    r->status = g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1;
    g_test_message("exit %d, stderr: %s", r->status, r->err);
}

static const char *const nmcli_args[] = {
    "-u", UUID, "-n", "mesh", "-s", SERVICE, "--external-ui-mode", "-i", NULL,
};

static GKeyFile *
parse_ui(const char *out)
{
    g_autoptr(GKeyFile) kf  = g_key_file_new();
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) groups    = NULL;

    g_key_file_load_from_data(kf, out, -1, G_KEY_FILE_NONE, &error);
    g_assert_no_error(error);
    /* What nm-applet, GNOME Shell and nmcli all insist on. */
    groups = g_key_file_get_groups(kf, NULL);
    g_assert_cmpstr(groups[0], ==, UI);
    g_assert_cmpint(g_key_file_get_integer(kf, UI, "Version", NULL), ==, 2);
    g_assert_true(g_key_file_has_key(kf, UI, "Title", NULL));
    g_assert_true(g_key_file_has_key(kf, UI, "Description", NULL));
    return g_steal_pointer(&kf);
}

/* The secret groups (all but the first), in order, joined by spaces. */
static char *
secret_groups(GKeyFile *kf)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    return g_strjoinv(" ", groups + 1);
}

static char *
get(GKeyFile *kf, const char *group, const char *key)
{
    g_autoptr(GError) error = NULL;
    char *value             = g_key_file_get_string(kf, group, key, &error);

    g_assert_no_error(error);
    return value;
}

static void
assert_entry(GKeyFile   *kf,
             const char *group,
             const char *value,
             const char *label_part,
             gboolean    should_ask)
{
    g_autofree char *v      = get(kf, group, "Value");
    g_autofree char *label  = get(kf, group, "Label");
    g_autoptr(GError) error = NULL;

    g_assert_cmpstr(v, ==, value);
    g_assert_nonnull(strstr(label, label_part));
    g_assert_true(g_key_file_get_boolean(kf, group, "IsSecret", &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_key_file_get_boolean(kf, group, "ShouldAsk", &error), ==, should_ask);
    g_assert_no_error(error);
}

/* ---- external-UI mode ---------------------------------------------------- */

/* As measured with nmcli --ask: the private key NOT_SAVED, nothing else. */
static void
test_external_private_key(void)
{
    /* clang-format off */
    static const char *const data[] = {
        "address",           "10.77.1.1/24",
        "private-key-flags", "2",
        "peer.1.public-key", PUB1,
        "peer.1.endpoint",   "192.0.2.1:51820",
        NULL,
    };
    /* clang-format on */
    g_autofree char *in     = agent_input(data, NULL, "DONE\nQUIT\n");
    g_auto(Result) r        = { 0 };
    g_autoptr(GKeyFile) kf  = NULL;
    g_autofree char *groups = NULL;
    g_autofree char *title  = NULL;
    g_autofree char *descr  = NULL;

    run(nmcli_args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpstr(r.err, ==, "");
    kf     = parse_ui(r.out);
    groups = secret_groups(kf);
    g_assert_cmpstr(groups, ==, "private-key");
    title = get(kf, UI, "Title");
    descr = get(kf, UI, "Description");
    g_assert_nonnull(strstr(title, "mesh"));
    g_assert_cmpstr(descr, ==, "The private key of “mesh” is needed.");
    assert_entry(kf, "private-key", "", "Private key", TRUE);
}

/* Preshared keys: asked when an agent or the user provides them, for peers
 * that exist; one the agent has is passed through, not asked. */
/* clang-format off */
static const char *const psk_data[] = {
    "address",                     "10.77.1.1/24",
    "private-key-flags",           "4", /* NOT_REQUIRED */
    "peer.1.public-key",           PUB1,
    "peer.1.name",                 "alice",
    "peer.1.preshared-key-flags",  "1", /* AGENT_OWNED */
    "peer.2.public-key",           PUB2,
    "peer.2.preshared-key-flags",  "2", /* NOT_SAVED */
    "peer.3.public-key",           PUB3,
    "peer.3.preshared-key-flags",  "0", /* stored by NetworkManager */
    "peer.4.preshared-key-flags",  "1", /* no such peer */
    "peer.10.public-key",          PUB3,
    "peer.10.preshared-key-flags", "5", /* AGENT_OWNED, NOT_REQUIRED */
    NULL,
};
static const char *const psk_secrets[] = {
    "peer.1.preshared-key",
    PSK1,
    NULL,
};
/* clang-format on */

static void
test_external_preshared_keys(void)
{
    g_autofree char *in     = agent_input(psk_data, psk_secrets, "DONE\nQUIT\n");
    g_auto(Result) r        = { 0 };
    g_autoptr(GKeyFile) kf  = NULL;
    g_autofree char *groups = NULL;

    run(nmcli_args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    kf     = parse_ui(r.out);
    groups = secret_groups(kf);
    g_assert_cmpstr(groups, ==, "peer.1.preshared-key peer.2.preshared-key");
    assert_entry(kf, "peer.1.preshared-key", PSK1, "alice", FALSE);
    /* No name: the start of its public key, as in the logs. */
    assert_entry(kf, "peer.2.preshared-key", "", "CW8COZql", TRUE);
    g_assert_null(strstr(r.err, PSK1));
}

/* -r: a secret the agent has is asked again (its value offered). */
static void
test_external_reprompt(void)
{
    /* clang-format off */
    const char *const args[] = {
        "-u", UUID, "-n", "mesh", "-s", SERVICE, "--external-ui-mode", "-i", "-r", NULL,
    };
    /* clang-format on */
    g_autofree char *in    = agent_input(psk_data, psk_secrets, "DONE\nQUIT\n");
    g_auto(Result) r       = { 0 };
    g_autoptr(GKeyFile) kf = NULL;

    run(args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    kf = parse_ui(r.out);
    assert_entry(kf, "peer.1.preshared-key", PSK1, "alice", TRUE);
    assert_entry(kf, "peer.2.preshared-key", "", "CW8COZql", TRUE);
}

/* Without -i nothing can be asked: values pass through, ShouldAsk false. */
static void
test_external_no_interaction(void)
{
    /* clang-format off */
    const char *const args[] = {
        "-u", UUID, "-n", "mesh", "-s", SERVICE, "--external-ui-mode", NULL,
    };
    /* clang-format on */
    g_autofree char *in    = agent_input(psk_data, psk_secrets, "DONE\n\n");
    g_auto(Result) r       = { 0 };
    g_autoptr(GKeyFile) kf = NULL;

    run(args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    kf = parse_ui(r.out);
    assert_entry(kf, "peer.1.preshared-key", PSK1, "alice", FALSE);
    assert_entry(kf, "peer.2.preshared-key", "", "CW8COZql", FALSE);
}

/* The service's hints (SecretsRequired, passed on as -t): only the secrets
 * they name, asked even when the agent has a value (the service refused
 * it), and x-vpn-message as the description. */
static void
test_external_hints(void)
{
    /* clang-format off */
    static const char *const data[] = {
        "private-key-flags",          "2",
        "peer.1.public-key",          PUB1,
        "peer.1.preshared-key-flags", "1",
        "peer.2.public-key",          PUB2,
        "peer.2.preshared-key-flags", "1",
        NULL,
    };
    static const char *const secrets[] = {
        "peer.2.preshared-key",
        PSK2,
        NULL,
    };
    const char *const args[] = {
        "-u", UUID, "-n", "mesh", "-s", SERVICE, "--external-ui-mode", "-i",
        "-t", "peer.2.preshared-key",
        "-t", "frobnicate",
        "-t", "x-vpn-message:  Not a WireGuard key: peer.2.preshared-key.\nEnter it again.",
        NULL,
    };
    /* clang-format on */
    g_autofree char *in     = agent_input(data, secrets, "DONE\nQUIT\n");
    g_auto(Result) r        = { 0 };
    g_autoptr(GKeyFile) kf  = NULL;
    g_autofree char *groups = NULL;
    g_autofree char *descr  = NULL;

    run(args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    kf     = parse_ui(r.out);
    groups = secret_groups(kf);
    g_assert_cmpstr(groups, ==, "peer.2.preshared-key");
    assert_entry(kf, "peer.2.preshared-key", PSK2, "CW8COZql", TRUE);
    descr = get(kf, UI, "Description");
    g_assert_cmpstr(descr, ==, "  Not a WireGuard key: peer.2.preshared-key.\nEnter it again.");
}

/* A message alone names no secret: the flags decide, the message stays. */
static void
test_external_message_only(void)
{
    static const char *const data[] = { "private-key-flags", "1", NULL };
    /* clang-format off */
    const char *const args[] = {
        "-u", UUID, "-n", "mesh", "-s", SERVICE, "--external-ui-mode", "-i",
        "-t", "x-vpn-message:Hello", NULL,
    };
    /* clang-format on */
    g_autofree char *in     = agent_input(data, NULL, "DONE\n\n");
    g_auto(Result) r        = { 0 };
    g_autoptr(GKeyFile) kf  = NULL;
    g_autofree char *groups = NULL;
    g_autofree char *descr  = NULL;

    run(args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    kf     = parse_ui(r.out);
    groups = secret_groups(kf);
    descr  = get(kf, UI, "Description");
    g_assert_cmpstr(groups, ==, "private-key");
    g_assert_cmpstr(descr, ==, "Hello");
}

/* Nothing needed: openvpn's "no-secret" entry, never asked. */
static void
test_external_no_secret(void)
{
    /* clang-format off */
    static const char *const data[] = {
        "private-key-flags", "4",
        "peer.1.public-key", PUB1,
        NULL,
    };
    /* clang-format on */
    g_autofree char *in     = agent_input(data, NULL, "DONE\nQUIT\n");
    g_auto(Result) r        = { 0 };
    g_autoptr(GKeyFile) kf  = NULL;
    g_autofree char *groups = NULL;
    g_autofree char *value  = NULL;
    g_autoptr(GError) error = NULL;

    run(nmcli_args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    kf     = parse_ui(r.out);
    groups = secret_groups(kf);
    g_assert_cmpstr(groups, ==, "no-secret");
    value = get(kf, "no-secret", "Value");
    g_assert_cmpstr(value, ==, "true");
    g_assert_false(g_key_file_get_boolean(kf, "no-secret", "ShouldAsk", &error));
    g_assert_no_error(error);
}

/* Continuation lines join with newlines (a peer name here), and the
 * answer escapes them so the key file reads them back. */
static void
test_external_continuation(void)
{
    /* clang-format off */
    static const char *const data[] = {
        "private-key-flags",          "4",
        "peer.7.public-key",          PUB1,
        "peer.7.name",                "alice\\\n smith",
        "peer.7.preshared-key-flags", "2",
        NULL,
    };
    /* clang-format on */
    g_autofree char *in    = agent_input(data, NULL, "DONE\nQUIT\n");
    g_auto(Result) r       = { 0 };
    g_autoptr(GKeyFile) kf = NULL;

    g_assert_nonnull(strstr(in, "DATA_VAL=alice\\\n= smith\n"));
    run(nmcli_args, in, &r);
    g_assert_cmpint(r.status, ==, 0);
    kf = parse_ui(r.out);
    assert_entry(kf, "peer.7.preshared-key", "", "“alice\\\n smith”", TRUE);
}

/* ---- bad input ------------------------------------------------------------ */

static void
assert_refused(const char *const *args, const char *input, const char *why)
{
    g_auto(Result) r = { 0 };

    run(args, input, &r);
    g_assert_cmpint(r.status, ==, 1);
    g_assert_cmpstr(r.out, ==, "");
    g_assert_true(g_str_has_prefix(r.err, "nm-wgmesh-auth-dialog: "));
    g_assert_nonnull(strstr(r.err, why));
}

static void
test_malformed(void)
{
    /* clang-format off */
    static const char *const bad_flags[] = {
        "private-key-flags", "agent", NULL,
    };
    /* clang-format on */
    static const char *const secrets[] = { "private-key", PRIV, NULL };
    /* clang-format off */
    const char *const no_uuid[] = {
        "-n", "mesh", "-s", SERVICE, "--external-ui-mode", "-i", NULL,
    };
    const char *const other[] = {
        "-u", UUID, "-n", "mesh", "-s", "org.freedesktop.NetworkManager.openvpn",
        "--external-ui-mode", NULL,
    };
    /* clang-format on */
    g_autofree char *flags_in = agent_input(bad_flags, secrets, "DONE\nQUIT\n");
    g_autofree char *good_in  = agent_input(NULL, secrets, "DONE\nQUIT\n");

    /* Nothing, or nothing but the end marker: no profile to ask for. */
    assert_refused(nmcli_args, "", "from stdin");
    assert_refused(nmcli_args, "DONE\nQUIT\n", "from stdin");
    assert_refused(nmcli_args, "garbage\n\nmore garbage\n", "DATA_KEY=");
    /* Flags that are not flags, in the words Connect uses. */
    assert_refused(nmcli_args, flags_in, "private-key-flags: \"agent\" is not a number");
    /* Command lines the agents never write. */
    assert_refused(no_uuid, good_in, "-u UUID");
    assert_refused(other, good_in, "org.freedesktop.NetworkManager.openvpn");
}

/* ---- legacy mode ---------------------------------------------------------- */

/* A secret needed and not there, and asking not allowed: a failure that
 * says why, not an empty answer. */
static void
test_legacy_no_interaction(void)
{
    static const char *const data[] = { "private-key-flags", "1", NULL };
    const char *const        args[] = { "-u", UUID, "-n", "mesh", "-s", SERVICE, NULL };
    g_autofree char         *in     = agent_input(data, NULL, "DONE\n");

    assert_refused(args, in, "needs private-key, but asking is not allowed");
}

/* -i but no display: a clear failure, not a crash. */
static void
test_legacy_no_display(void)
{
    static const char *const data[] = { "private-key-flags", "1", NULL };
    const char *const        args[] = { "-u", UUID, "-n", "mesh", "-s", SERVICE, "-i", NULL };
    g_autofree char         *in     = agent_input(data, NULL, "DONE\n");
    g_auto(Result) r                = { 0 };

    run(args, in, &r);
    g_assert_cmpint(r.status, ==, 1);
    g_assert_cmpstr(r.out, ==, "");
    g_assert_true(strstr(r.err, "cannot open a display") || strstr(r.err, "built without GTK"));
}

typedef struct {
    gboolean done;
    gboolean exited;
} Wait;

static void
wait_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    Wait *w = user_data;

    w->exited = g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
    w->done   = TRUE;
}

static gboolean
timeout_cb(gpointer user_data)
{
    g_cancellable_cancel(user_data);
    return G_SOURCE_REMOVE;
}

/* Whether @proc exits within @ms. */
static gboolean
exits_within(GSubprocess *proc, guint ms)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Wait  w                             = { 0 };
    guint id                            = g_timeout_add(ms, timeout_cb, cancellable);

    g_subprocess_wait_async(proc, cancellable, wait_cb, &w);
    while (!w.done)
        g_main_context_iteration(NULL, TRUE);
    if (!g_cancellable_is_cancelled(cancellable))
        g_source_remove(id);
    return w.exited;
}

/* Reads stdout up to and including the empty pair that ends the answer. */
static char *
read_answer(GSubprocess *proc)
{
    GInputStream *out = g_subprocess_get_stdout_pipe(proc);
    GString      *buf = g_string_new(NULL);

    while (!g_str_has_suffix(buf->str, "\n\n\n")) {
        char c;
        g_autoptr(GError) error = NULL;
        gssize n                = g_input_stream_read(out, &c, 1, NULL, &error);

        g_assert_no_error(error);
        if (n == 0)
            break;
        g_string_append_c(buf, c);
    }
    return g_string_free(buf, FALSE);
}

static void
write_in(GSubprocess *proc, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_output_stream_write_all(
        g_subprocess_get_stdin_pipe(proc), text, strlen(text), NULL, NULL, &error);
    g_assert_no_error(error);
}

/* The agent has every secret: pairs, the empty pair, then the dialog waits
 * for QUIT (nm-applet's and GNOME Shell's order) and exits 0 on it. */
static void
test_legacy_given(void)
{
    /* clang-format off */
    static const char *const data[] = {
        "private-key-flags",          "1",
        "peer.1.public-key",          PUB1,
        "peer.1.preshared-key-flags", "2",
        NULL,
    };
    static const char *const secrets[] = {
        "private-key", PRIV, "peer.1.preshared-key", PSK1, NULL,
    };
    /* clang-format on */
    const char *const args[]    = { "-u", UUID, "-n", "mesh", "-s", SERVICE, "-i", NULL };
    g_autofree char  *in        = agent_input(data, secrets, "DONE\n\n");
    g_autoptr(GSubprocess) proc = spawn(args);
    g_autofree char *answer     = NULL;

    write_in(proc, in);
    answer = read_answer(proc);
    g_assert_cmpstr(answer, ==, "private-key\n" PRIV "\npeer.1.preshared-key\n" PSK1 "\n\n\n");
    g_assert_false(exits_within(proc, 300));
    write_in(proc, "QUIT\n\n");
    g_assert_true(exits_within(proc, 5000));
    g_assert_true(g_subprocess_get_if_exited(proc));
    g_assert_cmpint(g_subprocess_get_exit_status(proc), ==, 0);
}

/* Nothing needed: the "no-secret" pair; an agent that goes away (EOF)
 * ends the wait as QUIT does. */
static void
test_legacy_no_secret(void)
{
    static const char *const data[] = { "private-key-flags", "4", NULL };
    const char *const        args[] = { "-u", UUID, "-n", "mesh", "-s", SERVICE, NULL };
    g_autofree char         *in     = agent_input(data, NULL, "DONE\n");
    g_autoptr(GSubprocess) proc     = spawn(args);
    g_autofree char *answer         = NULL;
    g_autoptr(GError) error         = NULL;

    write_in(proc, in);
    answer = read_answer(proc);
    g_assert_cmpstr(answer, ==, "no-secret\ntrue\n\n\n");
    g_output_stream_close(g_subprocess_get_stdin_pipe(proc), NULL, &error);
    g_assert_no_error(error);
    g_assert_true(exits_within(proc, 5000));
    g_assert_cmpint(g_subprocess_get_exit_status(proc), ==, 0);
}

int
main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    /* A dialog that refuses its command line exits before reading stdin. */
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/auth-dialog/external/private-key", test_external_private_key);
    g_test_add_func("/auth-dialog/external/preshared-keys", test_external_preshared_keys);
    g_test_add_func("/auth-dialog/external/reprompt", test_external_reprompt);
    g_test_add_func("/auth-dialog/external/no-interaction", test_external_no_interaction);
    g_test_add_func("/auth-dialog/external/hints", test_external_hints);
    g_test_add_func("/auth-dialog/external/message-only", test_external_message_only);
    g_test_add_func("/auth-dialog/external/no-secret", test_external_no_secret);
    g_test_add_func("/auth-dialog/external/continuation", test_external_continuation);
    g_test_add_func("/auth-dialog/malformed", test_malformed);
    g_test_add_func("/auth-dialog/legacy/no-interaction", test_legacy_no_interaction);
    g_test_add_func("/auth-dialog/legacy/no-display", test_legacy_no_display);
    g_test_add_func("/auth-dialog/legacy/given", test_legacy_given);
    g_test_add_func("/auth-dialog/legacy/no-secret", test_legacy_no_secret);

    return g_test_run();
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "wgm-error.h"
#include "wgm-plugin.h"
#include "wgm-settings-keys.h"

/* How long process exit waits for wireguard-go to remove its interface. */
#define EXIT_WAIT_MS 3000

static struct {
    gboolean debug;
    gboolean use_syslog;
    int      max_priority; /* syslog priority: messages above it are dropped */
} log_cfg = {
    .max_priority = LOG_INFO,
};

static int
level_to_priority(GLogLevelFlags level)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL))
        return LOG_CRIT;
    if (level & G_LOG_LEVEL_CRITICAL)
        return LOG_ERR;
    if (level & G_LOG_LEVEL_WARNING)
        return LOG_WARNING;
    if (level & G_LOG_LEVEL_MESSAGE)
        return LOG_NOTICE;
    if (level & G_LOG_LEVEL_INFO)
        return LOG_INFO;
    return LOG_DEBUG;
}

/* NetworkManager runs VPN services with NM_VPN_LOG_SYSLOG=1 and its own
 * level in NM_VPN_LOG_LEVEL; --debug sends everything to stderr instead. */
static GLogWriterOutput
log_writer(GLogLevelFlags log_level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
    const char *message  = NULL;
    int         priority = level_to_priority(log_level);

    if (priority > log_cfg.max_priority)
        return G_LOG_WRITER_HANDLED;

    for (gsize i = 0; i < n_fields; i++) {
        if (g_strcmp0(fields[i].key, "MESSAGE") == 0) {
            message = fields[i].value;
            break;
        }
    }
    if (!message)
        return G_LOG_WRITER_UNHANDLED;

    if (log_cfg.use_syslog)
        syslog(priority, "%s", message);
    else
        fprintf(stderr, "nm-wgmesh-service[%ld]: <%d> %s\n", (long)getpid(), priority, message);
    return G_LOG_WRITER_HANDLED;
}

static void
setup_logging(void)
{
    const char *env;

    if (log_cfg.debug) {
        log_cfg.max_priority = LOG_DEBUG;
    } else {
        log_cfg.use_syslog = g_strcmp0(g_getenv("NM_VPN_LOG_SYSLOG"), "1") == 0;
        env                = g_getenv("NM_VPN_LOG_LEVEL");
        if (env && g_ascii_isdigit(env[0]))
            log_cfg.max_priority = CLAMP(atoi(env), LOG_ERR, LOG_DEBUG);
    }
    if (log_cfg.use_syslog)
        openlog("nm-wgmesh", LOG_PID, LOG_DAEMON);
    g_log_set_writer_func(log_writer, NULL, NULL);
}

typedef struct {
    GMainLoop *loop;
    WgmPlugin *plugin;
} App;

static gboolean
signal_cb(gpointer user_data)
{
    App *app = user_data;

    g_message("terminating on signal");
    /* Disconnects a running mesh; whatever else is left is torn down after
     * the loop, on every way out. */
    nm_vpn_service_plugin_shutdown(NM_VPN_SERVICE_PLUGIN(app->plugin));
    g_main_loop_quit(app->loop);
    return G_SOURCE_CONTINUE;
}

static void
quit_cb(NMVpnServicePlugin *plugin, App *app)
{
    g_main_loop_quit(app->loop);
}

int
main(int argc, char *argv[])
{
    g_autoptr(GOptionContext) context = NULL;
    g_autoptr(GError) error           = NULL;
    g_autofree char *bus_name         = NULL;
    App              app              = { 0 };
    GOptionEntry     entries[]        = {
                   { "debug",
                     'd',
                     0,
                     G_OPTION_ARG_NONE,
                     &log_cfg.debug,
                     "Log to stderr, at debug level, and stay alive after a disconnect",
                     NULL },
                   { "bus-name",
                     0,
                     0,
                     G_OPTION_ARG_STRING,
                     &bus_name,
                     "D-Bus name to use (NetworkManager passes it)",
                     "NAME" },
                   { NULL },
    };

    context = g_option_context_new(NULL);
    g_option_context_set_summary(
        context, "nm-wgmesh-service brings up a WireGuard mesh for NetworkManager.");
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        fprintf(stderr, "nm-wgmesh-service: %s\n", error->message);
        return EXIT_FAILURE;
    }
    if (!bus_name)
        bus_name = g_strdup(WGM_VPN_SERVICE_TYPE);
    if (!g_dbus_is_name(bus_name) || g_dbus_is_unique_name(bus_name)) {
        fprintf(stderr,
                "nm-wgmesh-service: --bus-name: \"%s\" is not a D-Bus well-known name\n",
                bus_name);
        return EXIT_FAILURE;
    }

    setup_logging();
    (void)wgm_error_quark(); /* registers the D-Bus error names */

    app.plugin = wgm_plugin_new(bus_name, !log_cfg.debug, &error);
    if (!app.plugin) {
        g_warning("cannot start on the bus as %s: %s", bus_name, error->message);
        return EXIT_FAILURE;
    }
    g_message("nm-wgmesh-service %s ready as %s", PACKAGE_VERSION, bus_name);

    app.loop = g_main_loop_new(NULL, FALSE);
    g_signal_connect(app.plugin, "quit", G_CALLBACK(quit_cb), &app);
    g_unix_signal_add(SIGTERM, signal_cb, &app);
    g_unix_signal_add(SIGINT, signal_cb, &app);

    g_main_loop_run(app.loop);

    /* libnm 1.42 emits "quit" without flushing the bus connection (later
     * versions flush first), so
     * the reply to a refused Connect could be lost as the process exits:
     * NetworkManager would then see "no reply" instead of the error naming
     * the bad setting. */
    {
        GDBusConnection *bus =
            nm_vpn_service_plugin_get_connection(NM_VPN_SERVICE_PLUGIN(app.plugin));

        if (bus)
            g_dbus_connection_flush_sync(bus, NULL, NULL);
    }

    wgm_plugin_shutdown(app.plugin);
    wgm_plugin_wait_stopped(app.plugin, EXIT_WAIT_MS);
    g_clear_object(&app.plugin);
    g_main_loop_unref(app.loop);
    g_message("exiting");
    return EXIT_SUCCESS;
}

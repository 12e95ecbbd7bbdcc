/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Authorization of D-Bus callers, by polkit's D-Bus API (no libpolkit).
 * Facts relied on:
 *
 * - The bus itself answers org.freedesktop.DBus.GetConnectionUnixUser for a
 *   unique name with the uid it authenticated that connection as; a caller
 *   cannot lie about it.
 * - org.freedesktop.PolicyKit1.Authority.CheckAuthorization
 *   ((sa{sv}) subject, s action_id, a{ss} details, u flags,
 *   s cancellation_id) -> ((bba{ss}) is_authorized, is_challenge, details).
 *   A ("system-bus-name", {"name": <unique name>}) subject lets polkit find
 *   the caller's process, user and session itself, without the PID races
 *   of a "unix-process" subject.
 * - Flag 1, AllowUserInteraction: with an authentication agent in the
 *   caller's session (a desktop's), polkit asks the user and answers only
 *   once they did; so the call has no timeout of its own (G_MAXINT, as
 *   libpolkit-gobject).  Without an agent, an action that needs
 *   authentication comes back not authorized with is_challenge set; an
 *   answered dialog the user dismissed carries details
 *   "polkit.dismissed" = "true".
 * - CancelCheckAuthorization(s cancellation_id), from the connection that
 *   asked, closes a dialog still open: used when our cancellable fires.
 * - Without polkit on the bus, the call fails with ServiceUnknown (nothing
 *   to activate) or NameHasNoOwner; then only root passes.
 */
#define G_LOG_DOMAIN "nm-wgmesh"

#include "config.h"

#include "wgm-auth.h"

#include "wgm-error.h"

#define POLKIT_NAME  "org.freedesktop.PolicyKit1"
#define POLKIT_PATH  "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"

#define POLKIT_CHECK_ALLOW_USER_INTERACTION 1u

typedef struct {
    GDBusConnection *bus;
    char            *sender;
    char            *action_id;
    guint32          uid;
    char            *cancellation_id; /* NULL without a cancellable */
    GCancellable    *cancellable;
    gulong           cancelled_id;
} AuthData;

static void
auth_data_free(AuthData *data)
{
    if (data->cancelled_id)
        g_cancellable_disconnect(data->cancellable, data->cancelled_id);
    g_clear_object(&data->cancellable);
    g_clear_object(&data->bus);
    g_free(data->sender);
    g_free(data->action_id);
    g_free(data->cancellation_id);
    g_free(data);
}

/* Completes @task with a refusal naming the caller and the action. */
static void
refuse(GTask *task, const char *why)
{
    AuthData        *data = g_task_get_task_data(task);
    g_autofree char *who  = data->uid == G_MAXUINT32
                                ? g_strdup_printf("caller %s", data->sender)
                                : g_strdup_printf("caller %s (uid %u)", data->sender, data->uid);

    g_task_return_new_error(task,
                            WGM_ERROR,
                            WGM_ERROR_NOT_AUTHORIZED,
                            "%s refused for %s: %s",
                            who,
                            data->action_id,
                            why);
}

/* Closes the agent's dialog should the caller or the mesh go away while it
 * is open.  Runs synchronously inside g_cancellable_cancel(). */
static void
check_cancelled_cb(GCancellable *cancellable, AuthData *data)
{
    g_dbus_connection_call(data->bus,
                           POLKIT_NAME,
                           POLKIT_PATH,
                           POLKIT_IFACE,
                           "CancelCheckAuthorization",
                           g_variant_new("(s)", data->cancellation_id),
                           NULL,
                           G_DBUS_CALL_FLAGS_NO_AUTO_START,
                           -1,
                           NULL,
                           NULL,
                           NULL);
}

static void
check_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GTask) task       = user_data;
    g_autoptr(GError) error     = NULL;
    g_autoptr(GVariant) reply   = NULL;
    g_autoptr(GVariant) details = NULL;
    gboolean    authorized, challenge;
    const char *dismissed = NULL;

    reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    if (!reply) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_task_return_error(task, g_steal_pointer(&error));
        } else if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
                   || g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)) {
            refuse(task, "polkit is not available and the caller is not root");
        } else {
            g_autofree char *why = NULL;

            g_dbus_error_strip_remote_error(error);
            why = g_strdup_printf("the polkit check failed: %s", error->message);
            refuse(task, why);
        }
        return;
    }

    g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, &details);
    if (authorized) {
        g_task_return_boolean(task, TRUE);
        return;
    }
    g_variant_lookup(details, "polkit.dismissed", "&s", &dismissed);
    if (g_strcmp0(dismissed, "true") == 0)
        refuse(task, "not authorized by polkit (the authentication dialog was dismissed)");
    else if (challenge)
        refuse(task,
               "not authorized by polkit (it needs authentication, and no authentication agent "
               "answered for the caller)");
    else
        refuse(task, "not authorized by polkit");
}

static void
check_polkit(GTask *task)
{
    static guint    counter;
    AuthData       *data = g_task_get_task_data(task);
    GVariantBuilder subject_details;
    GVariant       *subject;
    GCancellable   *cancellable = g_task_get_cancellable(task);

    g_variant_builder_init(&subject_details, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&subject_details, "{sv}", "name", g_variant_new_string(data->sender));
    subject =
        g_variant_new("(s@a{sv})", "system-bus-name", g_variant_builder_end(&subject_details));

    if (cancellable) {
        data->cancellation_id = g_strdup_printf("wgm-auth-%u", counter++);
        data->cancellable     = g_object_ref(cancellable);
        data->cancelled_id =
            g_cancellable_connect(cancellable, G_CALLBACK(check_cancelled_cb), data, NULL);
    }

    g_dbus_connection_call(data->bus,
                           POLKIT_NAME,
                           POLKIT_PATH,
                           POLKIT_IFACE,
                           "CheckAuthorization",
                           g_variant_new("(@(sa{sv})sa{ss}us)",
                                         subject,
                                         data->action_id,
                                         NULL,
                                         POLKIT_CHECK_ALLOW_USER_INTERACTION,
                                         data->cancellation_id ?: ""),
                           G_VARIANT_TYPE("((bba{ss}))"),
                           G_DBUS_CALL_FLAGS_NONE,
                           G_MAXINT,
                           cancellable,
                           check_done_cb,
                           task);
}

static void
got_uid_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GTask    *task            = user_data;
    AuthData *data            = g_task_get_task_data(task);
    g_autoptr(GError) error   = NULL;
    g_autoptr(GVariant) reply = NULL;

    reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
    if (!reply) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_task_return_error(task, g_steal_pointer(&error));
        } else {
            g_autofree char *why = NULL;

            g_dbus_error_strip_remote_error(error);
            why = g_strdup_printf("the bus cannot tell who it is: %s", error->message);
            refuse(task, why);
        }
        g_object_unref(task);
        return;
    }

    g_variant_get(reply, "(u)", &data->uid);
    if (data->uid == 0) {
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        return;
    }
    check_polkit(task); /* takes the task */
}

void
wgm_auth_check_async(GDBusConnection    *bus,
                     const char         *sender,
                     const char         *action_id,
                     GCancellable       *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer            user_data)
{
    g_autoptr(GTask) task = NULL;
    AuthData *data;

    g_return_if_fail(G_IS_DBUS_CONNECTION(bus));
    g_return_if_fail(action_id != NULL);

    task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, wgm_auth_check_async);
    data            = g_new0(AuthData, 1);
    data->bus       = g_object_ref(bus);
    data->sender    = g_strdup(sender ?: "(none)");
    data->action_id = g_strdup(action_id);
    data->uid       = G_MAXUINT32; /* not known yet */
    g_task_set_task_data(task, data, (GDestroyNotify)auth_data_free);

    /* A peer-to-peer connection has no bus to vouch for the caller. */
    if (!sender) {
        refuse(task, "the caller has no bus name");
        return;
    }
    g_dbus_connection_call(bus,
                           "org.freedesktop.DBus",
                           "/org/freedesktop/DBus",
                           "org.freedesktop.DBus",
                           "GetConnectionUnixUser",
                           g_variant_new("(s)", sender),
                           G_VARIANT_TYPE("(u)"),
                           G_DBUS_CALL_FLAGS_NONE,
                           -1,
                           cancellable,
                           got_uid_cb,
                           g_steal_pointer(&task));
}

gboolean
wgm_auth_check_finish(GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == wgm_auth_check_async, FALSE);

    return g_task_propagate_boolean(G_TASK(result), error);
}

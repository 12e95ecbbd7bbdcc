/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * polkit for the dbus suite: python3-dbusmock's polkitd template on a test
 * bus in place of polkitd, and D-Bus calls made as another user (`gdbus
 * call` behind `setpriv`), so the service's authorization is tested with
 * real credentials the bus vouches for.
 */
#pragma once

#include "wgm-test-bus.h"
#include "wgm-test-vpn.h"

G_BEGIN_DECLS

#define WGM_TEST_NOBODY_UID 65534

typedef struct _WgmTestPolkit WgmTestPolkit;

/* tests/dbus/polkit-bus.conf in the source tree: the service's policy plus
 * polkit's, for wgm_test_bus_new_with_policy(). */
char *wgm_test_polkit_bus_policy(void);

/* TRUE if these tests can run here: as root (to call as nobody) with
 * python3-dbusmock ($WGM_PYTHON3, else /usr/bin/python3: a pyenv python3
 * first in PATH may lack it).  Otherwise: with CI=true, g_error() (CI must
 * run them); else g_test_skip() and FALSE. */
gboolean wgm_test_polkit_require(void);

/* Starts the polkitd template on @bus and waits until it owns
 * org.freedesktop.PolicyKit1.  It authorizes nothing until told. */
WgmTestPolkit *wgm_test_polkit_new(WgmTestBus *bus, GError **error);
/* The actions it authorizes from now on (NULL-terminated). */
void wgm_test_polkit_set_allowed(WgmTestPolkit *polkit, const char *const *actions);
/* Whether CheckAuthorization calls hang (as with a dialog left open). */
void wgm_test_polkit_set_hang(WgmTestPolkit *polkit, gboolean hang);
/* Whether any CheckAuthorization call hangs unanswered now. */
gboolean wgm_test_polkit_has_hanging_calls(WgmTestPolkit *polkit);
/* SIGTERM, reap; NULL-safe. */
void wgm_test_polkit_free(WgmTestPolkit *polkit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WgmTestPolkit, wgm_test_polkit_free)

/*
 * Runs `gdbus call --address <bus> --dest @dest --object-path @path
 * --method @method [@args...]` as user nobody if @as_nobody (setpriv, no
 * supplementary groups), else as ourselves, iterating the default main
 * context meanwhile (so a service in this very process can answer).
 * Returns TRUE if the call succeeded; otherwise FALSE with gdbus's message
 * ("GDBus.Error:<name>: <message>") in @out_error.
 */
gboolean wgm_test_gdbus_call(WgmTestBus        *bus,
                             gboolean           as_nobody,
                             const char        *dest,
                             const char        *path,
                             const char        *method,
                             const char *const *args,
                             char             **out_error);

/* The service in a network namespace of its own (no peers) on a bus with
 * polkit's policy (wgm_test_polkit_bus_policy()), owning @bus_name, and a
 * mesh connected from @data/@secrets as NetworkManager would; FALSE (the
 * test skips) where root or python3-dbusmock is missing. */
gboolean wgm_test_polkit_harness_connect(WgmTestHarness    *h,
                                         const char        *bus_name,
                                         const char        *id,
                                         const char *const *data,
                                         const char *const *secrets);
/* dbusmock's polkitd on @bus, authorizing @allowed only. */
WgmTestPolkit *wgm_test_polkit_new_allowing(WgmTestBus *bus, const char *allowed);

G_END_DECLS

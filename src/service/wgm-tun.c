/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "wgm-tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wgm-glib-utils.h"

gboolean
wgm_tun_make_persistent(const char *ifname, GError **error)
{
    struct ifreq ifr   = { 0 };
    int          errsv = 0;
    int          fd;

    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        errsv = errno;
    } else {
        g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
            errsv = errno;
        close(fd);
    }
    if (errsv)
        g_propagate_error(
            error,
            wgm_backend_error_new("Could not create tun device %s: %s", ifname, g_strerror(errsv)));
    return !errsv;
}

gboolean
wgm_link_delete(const char *ifname, GError **error)
{
    struct {
        struct nlmsghdr  nh;
        struct ifinfomsg ifi;
        char             attrs[64];
    } req                     = { 0 };
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    struct rtattr     *rta;
    char               reply[512];
    int                errsv = 0;
    int                fd;
    ssize_t            n;
    unsigned           ifindex = if_nametoindex(ifname);

    if (ifindex == 0)
        return TRUE;

    req.nh.nlmsg_len   = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    req.nh.nlmsg_type  = RTM_DELLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.nh.nlmsg_seq   = 1;
    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index  = (int)ifindex;
    rta                = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type      = IFLA_IFNAME;
    rta->rta_len       = RTA_LENGTH(strlen(ifname) + 1);
    memcpy(RTA_DATA(rta), ifname, strlen(ifname) + 1);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0
        || sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        errsv = errno;
    } else if ((n = recv(fd, reply, sizeof(reply), 0)) < 0) {
        errsv = errno;
    } else if ((size_t)n >= NLMSG_LENGTH(sizeof(struct nlmsgerr))
               && ((struct nlmsghdr *)reply)->nlmsg_type == NLMSG_ERROR) {
        errsv = -((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)reply))->error;
    }
    if (fd >= 0)
        close(fd);
    if (errsv == ENODEV)
        errsv = 0; /* gone meanwhile */
    if (errsv)
        g_propagate_error(
            error, wgm_backend_error_new("Could not delete %s: %s", ifname, g_strerror(errsv)));
    return !errsv;
}

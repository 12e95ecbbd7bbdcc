/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in for wireguard-go in the userspace backend's unit test: run
 * like the real one ("fake-wireguard-go -f IFNAME", WG_PROCESS_FOREGROUND=1),
 * it listens on $WGM_TEST_SOCKET_DIR/IFNAME.sock (replacing a stale file),
 * writes its pid to IFNAME.pid there, and answers UAPI requests one
 * connection at a time, strictly in order: "get=1" with the listen port
 * (51820 until a set changes it), "set=1" with errno=0.  On SIGTERM it
 * removes its socket and exits 0, as wireguard-go does.  It creates no tun
 * device (the test supplies the link step) and so needs no root.  The test
 * kills or stops it by the pid it wrote.
 */
#define _GNU_SOURCE /* memmem() */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void
on_term(int sig)
{
    (void)sig;
    unlink(sock_path);
    _exit(0);
}

static int
send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One request ("...\n\n") in @req: the reply. */
static int
answer(int fd, const char *req, unsigned *listen_port)
{
    char        reply[128];
    const char *line;

    if (strncmp(req, "get=1\n", 6) == 0) {
        snprintf(reply, sizeof(reply), "listen_port=%u\nerrno=0\n\n", *listen_port);
        return send_all(fd, reply, strlen(reply));
    }
    if (strncmp(req, "set=1\n", 6) != 0)
        return -1;
    for (line = req; line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, "listen_port=", 12) == 0)
            *listen_port = (unsigned)strtoul(line + 12, NULL, 10);
    }
    return send_all(fd, "errno=0\n\n", 9);
}

/* Requests of one connection until it closes. */
static void
serve(int fd, unsigned *listen_port)
{
    static char buf[1 << 20];
    size_t      len = 0;

    for (;;) {
        char   *end;
        ssize_t n;

        while ((end = memmem(buf, len, "\n\n", 2))) {
            size_t req_len = (size_t)(end - buf) + 2;

            end[1] = '\0';
            if (answer(fd, buf, listen_port) < 0)
                return;
            memmove(buf, buf + req_len, len - req_len);
            len -= req_len;
        }
        if (len == sizeof(buf) - 1)
            return;
        n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        len += (size_t)n;
    }
}

int
main(int argc, char **argv)
{
    struct sockaddr_un addr        = { .sun_family = AF_UNIX };
    const char        *dir         = getenv("WGM_TEST_SOCKET_DIR");
    unsigned           listen_port = 51820;
    char               pid_path[sizeof(sock_path)];
    FILE              *pid_file;
    int                lfd;

    if (argc != 3 || strcmp(argv[1], "-f") != 0 || !dir)
        return 64;
    if (!getenv("WG_PROCESS_FOREGROUND") || strcmp(getenv("WG_PROCESS_FOREGROUND"), "1") != 0)
        return 65;
    snprintf(sock_path, sizeof(sock_path), "%s/%s.sock", dir, argv[2]);
    snprintf(pid_path, sizeof(pid_path), "%s/%s.pid", dir, argv[2]);
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);

    printf("DEBUG: (%s) 2026/11/25 10:00:00 Starting fake wireguard-go\n", argv[2]);
    fflush(stdout);

    /* Written before the socket exists: once the backend has connected,
     * the test finds it. */
    pid_file = fopen(pid_path, "w");
    if (!pid_file)
        return 71;
    fprintf(pid_file, "%ld\n", (long)getpid());
    fclose(pid_file);

    memcpy(addr.sun_path, sock_path, sizeof(addr.sun_path));
    unlink(sock_path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 16) < 0)
        return 72;

    for (;;) {
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return 73;
        }
        serve(fd, &listen_port);
        close(fd);
    }
}

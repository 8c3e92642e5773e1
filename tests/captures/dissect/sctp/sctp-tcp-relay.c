/* SCTP <-> TCP relay for make-sctp-captures.sh (not built by meson, not run by CI).
 *
 * The capture machine's kernel has no SCTP module, so neither nginx nor curl can speak SCTP.
 * This relay runs usrsctp (Debian's libusrsctp2: a whole SCTP stack in userspace, on raw IP
 * sockets) and copies bytes both ways between an SCTP association and a TCP connection:
 *
 *   relay sctp PORT TARGET TARGET_PORT  accept SCTP on PORT, connect TCP to TARGET (nginx)
 *   relay tcp PORT TARGET TARGET_PORT   accept TCP on 127.0.0.1:PORT (curl), connect SCTP
 *
 * The SCTP on the wire is usrsctp's, the HTTP inside is the real client's and server's. Only
 * one usrsctp stack may run in a network namespace at a time (each answers the others'
 * packets with ABORT), so the script runs them one after the other.
 *
 *   cc -O2 -o relay sctp-tcp-relay.c -lusrsctp -lpthread
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <usrsctp.h>

struct pair {
  struct socket *sctp;
  int tcp;
};

static void *tcp_to_sctp(void *arg) {
  struct pair *p = arg;
  char buf[16384];
  for (;;) {
    ssize_t n = read(p->tcp, buf, sizeof buf);
    if (n <= 0) break;
    ssize_t off = 0;
    while (off < n) {
      ssize_t w = usrsctp_sendv(p->sctp, buf + off, (size_t)(n - off), NULL, 0, NULL, 0,
                                SCTP_SENDV_NOINFO, 0);
      if (w < 0) return NULL;
      off += w;
    }
  }
  usrsctp_shutdown(p->sctp, SHUT_WR);
  return NULL;
}

static void relay(struct socket *conn, int tcp) {
  struct pair p = {conn, tcp};
  pthread_t th;
  pthread_create(&th, NULL, tcp_to_sctp, &p);
  char buf[16384];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    struct sctp_rcvinfo info;
    socklen_t infolen = sizeof info;
    unsigned int infotype = 0;
    int flags = 0;
    ssize_t n = usrsctp_recvv(conn, buf, sizeof buf, (struct sockaddr *)&from, &fromlen, &info,
                              &infolen, &infotype, &flags);
    if (n <= 0) break;
    if (flags & MSG_NOTIFICATION) continue;
    if (write(tcp, buf, (size_t)n) != n) break;
  }
  shutdown(tcp, SHUT_WR);
  pthread_join(th, NULL);
  close(tcp);
  usrsctp_close(conn);
}

static struct sockaddr_in addr(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

int main(int argc, char **argv) {
  if (argc != 5 || (strcmp(argv[1], "sctp") != 0 && strcmp(argv[1], "tcp") != 0)) {
    fprintf(stderr, "usage: %s sctp|tcp PORT TARGET TARGET_PORT\n", argv[0]);
    return 2;
  }
  const int listen_sctp = strcmp(argv[1], "sctp") == 0;
  const int port = atoi(argv[2]);
  const struct sockaddr_in target = addr(argv[3], atoi(argv[4]));
  usrsctp_init(0, NULL, NULL); /* 0: SCTP directly over IP (raw sockets), no UDP encapsulation */
  if (listen_sctp) {
    struct socket *s = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    struct sockaddr_in a = addr("0.0.0.0", port);
    if (s == NULL || usrsctp_bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        usrsctp_listen(s, 4) != 0) {
      perror("relay: SCTP listen");
      return 1;
    }
    fprintf(stderr, "relay: listening on SCTP port %d\n", port);
    for (;;) {
      struct socket *conn = usrsctp_accept(s, NULL, NULL);
      if (conn == NULL) {
        if (errno == EINTR) continue;
        perror("relay: accept");
        return 1;
      }
      int tcp = socket(AF_INET, SOCK_STREAM, 0);
      if (tcp < 0 || connect(tcp, (const struct sockaddr *)&target, sizeof target) != 0) {
        perror("relay: TCP connect");
        if (tcp >= 0) close(tcp);
        usrsctp_close(conn);
        continue;
      }
      relay(conn, tcp);
    }
  }
  int l = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = addr("127.0.0.1", port);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 4) != 0) {
    perror("relay: TCP listen");
    return 1;
  }
  fprintf(stderr, "relay: listening on TCP port %d\n", port);
  for (;;) {
    int tcp = accept(l, NULL, NULL);
    if (tcp < 0) {
      if (errno == EINTR) continue;
      perror("relay: accept");
      return 1;
    }
    struct socket *conn = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (conn == NULL || usrsctp_connect(conn, (struct sockaddr *)&target, sizeof target) != 0) {
      perror("relay: SCTP connect");
      if (conn) usrsctp_close(conn);
      close(tcp);
      continue;
    }
    relay(conn, tcp);
  }
}

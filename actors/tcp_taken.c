/*  tcp_taken.c -- see tcp_taken.h.
*/
#include "tcp_taken.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int
tcp_taken (int fd, uint64_t *taken)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    int inq = 0;
    if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof (struct tcp_info, tcpi_bytes_received) +
                  sizeof ti.tcpi_bytes_received ||
        ioctl (fd, SIOCINQ, &inq) != 0 || inq < 0)
        return -1;
    *taken = ti.tcpi_bytes_received - (uint64_t)inq;
    return 0;
}

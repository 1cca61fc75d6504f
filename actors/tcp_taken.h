/*  tcp_taken.h -- how many bytes a process has read from a TCP socket.

    Kept apart from everything else: it needs the kernel's struct tcp_info
    (<linux/tcp.h>: tcpi_bytes_received, which glibc's <netinet/tcp.h>
    lacks), and the two headers cannot be included together -- czmq.h
    brings in the glibc one.
*/
#ifndef TCP_TAKEN_H_INCLUDED
#define TCP_TAKEN_H_INCLUDED

#include <stdint.h>

/* Bytes received on the connected TCP socket fd (TCP_INFO) less those
   still in its receive buffer (SIOCINQ): what the reader has taken. 0, or
   -1 if fd is not such a socket or the kernel does not say. */
int tcp_taken (int fd, uint64_t *taken);

#endif

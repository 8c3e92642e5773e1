#!/usr/bin/env python3
"""Tiny userspace relays used by make-captures.sh (python3 stdlib only).

The capture machine's kernel has no 8021q and no ipip/ip6_tunnel support, so
VLAN subinterfaces and IP tunnels cannot be made with `ip link add`. These
relays stand in for them; the IP stacks, servers and clients stay real.

  vlan     run inside a namespace: for each TAP device NAME with a tag stack,
           frames the kernel sends on the TAP get the tags pushed after the MAC
           addresses and are sent on DEV (the veth); tagged frames received on
           DEV whose tag stack matches are popped and handed to the TAP. So the
           veth carries real 802.1Q / 802.1ad+802.1Q frames, like a VLAN
           subinterface would put there.
  tunpair  creates TUN device A in namespace NS_A and TUN device B in NS_B and
           copies IP packets between them: a point-to-point IP link whose
           devices capture as LINKTYPE_RAW.
"""
import argparse
import ctypes
import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)


def put(fn, *args):
    """Send or write one frame; a peer device that is down (EIO, ENETDOWN) drops it, as a wire would."""
    try:
        fn(*args)
    except OSError:
        pass


def open_tun(name, flags):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags | IFF_NO_PI))
    return fd


def enter_netns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (name, os.strerror(err)))
    finally:
        os.close(fd)


def parse_tags(spec):
    """'8100:100' or '88a8:200/8100:300' -> bytes of the tag stack, outer first."""
    out = b""
    for part in spec.split("/"):
        tpid, vid = part.split(":")
        out += struct.pack("!HH", int(tpid, 16), int(vid))
    return out


def run_vlan(args):
    taps = {}  # tag stack bytes -> tap fd
    fd_tags = {}
    for item in args.tap:
        name, spec = item.split("=", 1)
        tags = parse_tags(spec)
        fd = open_tun(name, IFF_TAP)
        taps[tags] = fd
        fd_tags[fd] = tags
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((args.dev, ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    print("ready", flush=True)
    fds = [sock.fileno()] + list(fd_tags)
    while True:
        readable, _, _ = select.select(fds, [], [])
        for fd in readable:
            if fd in fd_tags:
                frame = os.read(fd, 65536)
                if len(frame) >= 14:
                    put(sock.send, frame[:12] + fd_tags[fd] + frame[12:])
                continue
            try:
                data, anc, _, addr = sock.recvmsg(65536, socket.CMSG_SPACE(20))
            except OSError:
                continue
            if addr[2] == PACKET_OUTGOING or len(data) < 14:
                continue
            # The kernel moves the outer tag into metadata on receive; put it back.
            for level, ctype, cdata in anc:
                if level == SOL_PACKET and ctype == PACKET_AUXDATA and len(cdata) >= 20:
                    status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", cdata[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        if not status & TP_STATUS_VLAN_TPID_VALID:
                            tpid = 0x8100
                        data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
            off = 12
            while off + 4 <= len(data) and struct.unpack_from("!H", data, off)[0] in VLAN_TPIDS:
                off += 4
            stack = b""
            for i in range(12, off, 4):
                tpid, tci = struct.unpack_from("!HH", data, i)
                stack += struct.pack("!HH", tpid, tci & 0x0FFF)
            fd = taps.get(stack)
            if fd is not None:
                put(os.write, fd, data[:12] + data[off:])


def run_tunpair(args):
    enter_netns(args.ns_a)
    fa = open_tun(args.tun_a, IFF_TUN)
    enter_netns(args.ns_b)
    fb = open_tun(args.tun_b, IFF_TUN)
    print("ready", flush=True)
    peer = {fa: fb, fb: fa}
    while True:
        readable, _, _ = select.select([fa, fb], [], [])
        for fd in readable:
            put(os.write, peer[fd], os.read(fd, 65536))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    v = sub.add_parser("vlan")
    v.add_argument("--dev", required=True)
    v.add_argument("--tap", action="append", required=True, help="NAME=TPID:VID[/TPID:VID]")
    t = sub.add_parser("tunpair")
    t.add_argument("--ns-a", required=True)
    t.add_argument("--tun-a", required=True)
    t.add_argument("--ns-b", required=True)
    t.add_argument("--tun-b", required=True)
    args = ap.parse_args()
    try:
        (run_vlan if args.mode == "vlan" else run_tunpair)(args)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

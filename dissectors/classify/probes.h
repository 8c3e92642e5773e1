#pragma once
// The probe functions of the closed set (internal to dissectors/classify). Each returns
// Certain / Unsure / NotMine for the protocol it is named after; the DNS, RPC and mail
// families share one function that tells their members apart (`self`).
#include "dissectors/classify/probe.h"

namespace flowscribe::dissect::probes {

#define FS_CLASSIFY_PROBES(X) \
  X(http) X(http2) X(rtsp) X(sip) X(ssdp) X(ssh) X(vnc) X(telnet) X(mail) X(irc) X(xmpp) \
  X(syslog) X(redis) X(memcached) X(rsync) X(git) X(mqtt) X(amqp) X(bittorrent)         \
  X(tls) X(dtls) X(rdp) X(smb) X(rpc) X(dns_family) X(mysql) X(postgresql) X(tds)        \
  X(ldap) X(kerberos) X(snmp) X(dhcp) X(dhcpv6) X(ntp) X(quic) X(socks) X(mongodb)       \
  X(tftp) X(stun) X(openvpn) X(wireguard) X(modbus) X(dnp3) X(bgp) X(ike) X(opcua) \
  X(adb)

#define FS_CLASSIFY_PROBE_DECL_(name) Verdict name(const ProbeInput& in, AppProto self) noexcept;
FS_CLASSIFY_PROBES(FS_CLASSIFY_PROBE_DECL_)
#undef FS_CLASSIFY_PROBE_DECL_

// Checks of the other side's first message (ProtoInfo::verify), named after the probe whose
// protocol(s) they judge; protocols with a dissector (http, tls, the DNS family) and those with
// no sound check (telnet, syslog, socks, quic, nbns) have none.
#define FS_CLASSIFY_VERIFIERS(X) \
  X(ssh) X(vnc) X(mail) X(irc) X(xmpp) X(redis) X(memcached) X(rsync) X(git) X(rtsp) X(sip)  \
  X(ssdp) X(dtls) X(rdp) X(smb) X(rpc) X(mysql) X(postgresql) X(tds) X(mongodb) X(ldap)      \
  X(kerberos) X(snmp) X(dhcp) X(dhcpv6) X(ntp) X(stun) X(openvpn) X(wireguard) X(modbus)     \
  X(dnp3) X(bgp) X(amqp) X(mqtt) X(bittorrent) X(tftp) X(http2)

#define FS_CLASSIFY_VERIFY_DECL_(name) \
  Check verify_##name(const ProbeInput& in, bool side_is_server, AppProto self) noexcept;
FS_CLASSIFY_VERIFIERS(FS_CLASSIFY_VERIFY_DECL_)
#undef FS_CLASSIFY_VERIFY_DECL_

// CRC of a DNP3 link-layer block (IEEE 1815 §9.2.1.2.3); exposed for tests.
uint16_t dnp3_crc(const uint8_t* p, uint32_t n) noexcept;

}  // namespace flowscribe::dissect::probes

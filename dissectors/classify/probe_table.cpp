// The closed set: one row per built-in protocol (probe, transports, structural flag, usual
// server ports). Ports only break ties between Unsure results (docs/protocols.md).
#include <array>

#include "dissectors/classify/probe.h"
#include "dissectors/classify/probes.h"

namespace flowscribe::dissect {
namespace {

using P = AppProto;

struct Row {
  P proto;
  ProbeFn probe;
  uint8_t transports;
  bool structural;
  std::array<uint16_t, 4> ports;
};

// Structural rows are probed on every evaluation that has no Certain answer yet; the others
// only after one of their Hyperscan signatures matched (dissectors/classify/signatures.cpp).
constexpr Row kRows[] = {
    {P::kHttp, probes::http, kTcp, false, {80, 8080, 8000, 3128}},
    {P::kTls, probes::tls, kTcp, false, {443, 8443, 993, 995}},
    {P::kDns, probes::dns_family, kBoth, true, {53, 0, 0, 0}},
    {P::kDtls, probes::dtls, kUdp, false, {443, 4433, 5684, 3391}},
    {P::kSsh, probes::ssh, kTcp, false, {22, 2222, 0, 0}},
    {P::kRdp, probes::rdp, kBoth, false, {3389, 0, 0, 0}},
    {P::kVnc, probes::vnc, kTcp, false, {5900, 5901, 5902, 0}},
    {P::kTelnet, probes::telnet, kTcp, false, {23, 2323, 0, 0}},
    {P::kFtp, probes::mail, kTcp, false, {21, 2121, 0, 0}},
    {P::kSmb, probes::smb, kBoth, false, {445, 139, 138, 0}},
    {P::kNfs, probes::rpc, kBoth, true, {2049, 0, 0, 0}},
    {P::kRpc, probes::rpc, kBoth, true, {111, 0, 0, 0}},
    {P::kMdns, probes::dns_family, kUdp, true, {5353, 0, 0, 0}},
    {P::kLlmnr, probes::dns_family, kUdp, true, {5355, 0, 0, 0}},
    {P::kNbns, probes::dns_family, kUdp, true, {137, 0, 0, 0}},
    {P::kSmtp, probes::mail, kTcp, false, {25, 587, 2525, 0}},
    {P::kPop3, probes::mail, kTcp, false, {110, 0, 0, 0}},
    {P::kImap, probes::mail, kTcp, false, {143, 0, 0, 0}},
    {P::kMysql, probes::mysql, kTcp, false, {3306, 0, 0, 0}},
    {P::kPostgresql, probes::postgresql, kTcp, false, {5432, 0, 0, 0}},
    {P::kTds, probes::tds, kTcp, true, {1433, 0, 0, 0}},
    {P::kLdap, probes::ldap, kBoth, true, {389, 3268, 0, 0}},
    {P::kKerberos, probes::kerberos, kBoth, true, {88, 464, 0, 0}},
    {P::kDhcp, probes::dhcp, kUdp, false, {67, 68, 0, 0}},
    {P::kDhcpv6, probes::dhcpv6, kUdp, true, {547, 546, 0, 0}},
    {P::kNtp, probes::ntp, kUdp, true, {123, 0, 0, 0}},
    {P::kSnmp, probes::snmp, kBoth, true, {161, 162, 0, 0}},
    {P::kSip, probes::sip, kBoth, false, {5060, 0, 0, 0}},
    {P::kQuic, probes::quic, kUdp, true, {443, 80, 8443, 0}},
    {P::kIrc, probes::irc, kTcp, false, {6667, 6697, 0, 0}},
    {P::kXmpp, probes::xmpp, kTcp, false, {5222, 5269, 0, 0}},
    {P::kBittorrent, probes::bittorrent, kBoth, false, {6881, 6889, 51413, 0}},
    {P::kSocks, probes::socks, kTcp, true, {1080, 0, 0, 0}},
    {P::kRedis, probes::redis, kTcp, false, {6379, 0, 0, 0}},
    {P::kMongodb, probes::mongodb, kTcp, true, {27017, 0, 0, 0}},
    {P::kRtsp, probes::rtsp, kTcp, false, {554, 8554, 0, 0}},
    {P::kSyslog, probes::syslog, kBoth, false, {514, 601, 6514, 0}},
    {P::kTftp, probes::tftp, kUdp, true, {69, 0, 0, 0}},
    {P::kMqtt, probes::mqtt, kTcp, false, {1883, 0, 0, 0}},
    {P::kMemcached, probes::memcached, kBoth, false, {11211, 0, 0, 0}},
    {P::kSsdp, probes::ssdp, kUdp, false, {1900, 0, 0, 0}},
    {P::kStun, probes::stun, kBoth, false, {3478, 19302, 0, 0}},
    {P::kOpenvpn, probes::openvpn, kBoth, true, {1194, 0, 0, 0}},
    {P::kWireguard, probes::wireguard, kUdp, false, {51820, 0, 0, 0}},
    {P::kModbus, probes::modbus, kTcp, true, {502, 0, 0, 0}},
    {P::kDnp3, probes::dnp3, kBoth, false, {20000, 0, 0, 0}},
    {P::kBgp, probes::bgp, kTcp, false, {179, 0, 0, 0}},
    {P::kAmqp, probes::amqp, kTcp, false, {5672, 0, 0, 0}},
    {P::kRsync, probes::rsync, kTcp, false, {873, 0, 0, 0}},
    {P::kHttp2, probes::http2, kTcp, false, {80, 8080, 0, 0}},
    {P::kGit, probes::git, kTcp, false, {9418, 0, 0, 0}},
    {P::kIke, probes::ike, kUdp, true, {500, 4500, 0, 0}},
    {P::kOpcua, probes::opcua, kTcp, true, {4840, 4843, 0, 0}},
    {P::kAdb, probes::adb, kTcp, false, {5555, 5037, 0, 0}},
};

// Protocols whose other side's first message is checked after a one-sided decision
// (docs/protocols.md, "Violations"), and over which transports the check is sound.
struct VerifyRow {
  P proto;
  VerifyFn verify;
  uint8_t transports;
};
constexpr VerifyRow kVerifyRows[] = {
    {P::kSsh, probes::verify_ssh, kTcp},
    {P::kVnc, probes::verify_vnc, kTcp},
    {P::kFtp, probes::verify_mail, kTcp},
    {P::kSmtp, probes::verify_mail, kTcp},
    {P::kPop3, probes::verify_mail, kTcp},
    {P::kImap, probes::verify_mail, kTcp},
    {P::kIrc, probes::verify_irc, kTcp},
    {P::kXmpp, probes::verify_xmpp, kTcp},
    {P::kRedis, probes::verify_redis, kTcp},
    {P::kMemcached, probes::verify_memcached, kBoth},
    {P::kRsync, probes::verify_rsync, kTcp},
    {P::kGit, probes::verify_git, kTcp},
    {P::kRtsp, probes::verify_rtsp, kTcp},
    {P::kSip, probes::verify_sip, kTcp},  // UDP: keepalives, STUN and SigComp share the flow
    {P::kSsdp, probes::verify_ssdp, kUdp},
    {P::kDtls, probes::verify_dtls, kUdp},
    {P::kRdp, probes::verify_rdp, kTcp},
    {P::kSmb, probes::verify_smb, kTcp},
    {P::kNfs, probes::verify_rpc, kBoth},
    {P::kRpc, probes::verify_rpc, kBoth},
    {P::kMysql, probes::verify_mysql, kTcp},
    {P::kPostgresql, probes::verify_postgresql, kTcp},
    {P::kTds, probes::verify_tds, kTcp},
    {P::kMongodb, probes::verify_mongodb, kTcp},
    {P::kLdap, probes::verify_ldap, kBoth},
    {P::kKerberos, probes::verify_kerberos, kBoth},
    {P::kSnmp, probes::verify_snmp, kBoth},
    {P::kDhcp, probes::verify_dhcp, kUdp},
    {P::kDhcpv6, probes::verify_dhcpv6, kUdp},
    {P::kNtp, probes::verify_ntp, kUdp},
    {P::kStun, probes::verify_stun, kBoth},
    {P::kOpenvpn, probes::verify_openvpn, kBoth},
    {P::kWireguard, probes::verify_wireguard, kUdp},
    {P::kModbus, probes::verify_modbus, kTcp},
    {P::kDnp3, probes::verify_dnp3, kBoth},
    {P::kBgp, probes::verify_bgp, kTcp},
    {P::kAmqp, probes::verify_amqp, kTcp},
    {P::kMqtt, probes::verify_mqtt, kTcp},
    {P::kBittorrent, probes::verify_bittorrent, kTcp},  // UDP: DHT and uTP share the port
    {P::kTftp, probes::verify_tftp, kUdp},
    {P::kHttp2, probes::verify_http2, kTcp},
};

constexpr std::array<ProtoInfo, kAppProtoBuiltinEnd> make_table() {
  std::array<ProtoInfo, kAppProtoBuiltinEnd> t{};
  for (const Row& r : kRows) {
    ProtoInfo& i = t[static_cast<uint16_t>(r.proto)];
    i.probe = r.probe;
    i.transports = r.transports;
    i.structural = r.structural;
    for (size_t k = 0; k < 4; ++k) i.ports[k] = r.ports[k];
  }
  for (const VerifyRow& v : kVerifyRows) {
    ProtoInfo& i = t[static_cast<uint16_t>(v.proto)];
    i.verify = v.verify;
    i.verify_transports = v.transports & i.transports;
  }
  return t;
}

constexpr std::array<ProtoInfo, kAppProtoBuiltinEnd> kTable = make_table();

constexpr bool every_protocol_has_a_probe() {
  for (uint16_t id = 1; id < kAppProtoBuiltinEnd; ++id) {
    if (kTable[id].transports == 0) return false;  // (probe pointers: checked by the unit test)
  }
  return true;
}
static_assert(every_protocol_has_a_probe(), "each AppProto needs a row in kRows");
static_assert(sizeof(kRows) / sizeof(kRows[0]) == kAppProtoBuiltinEnd - 1, "one row per protocol");

const ProtoInfo kNone{};

}  // namespace

const ProtoInfo& proto_info(uint16_t id) noexcept { return id < kAppProtoBuiltinEnd ? kTable[id] : kNone; }

}  // namespace flowscribe::dissect

#include "dissectors/registry.h"

#include <initializer_list>

#include "dissectors/dns/dns.h"
#include "dissectors/http/http.h"
#include "dissectors/http2/http2.h"
#include "dissectors/ike/ike.h"
#include "dissectors/opcua/opcua.h"
#include "dissectors/openvpn/openvpn.h"
#include "dissectors/socks/socks.h"
#include "dissectors/starttls/starttls.h"
#include "dissectors/tls/tls.h"
#include "dissectors/tlsup/tlsup.h"

namespace flowscribe::dissect {
namespace {

void add(DissectorSet& s, std::unique_ptr<Dissector> d, std::initializer_list<AppProto> protos) {
  s.list.push_back(std::move(d));
  for (AppProto p : protos) s.by_proto[static_cast<uint16_t>(p)] = static_cast<uint8_t>(s.list.size());
}

}  // namespace

DissectorSet make_dissectors() {
  DissectorSet s;
  // One line per dissector: add(s, make_<name>_dissector(), {AppProto::k...});
  add(s, make_dns_dissector(), {AppProto::kDns, AppProto::kMdns, AppProto::kLlmnr});
  add(s, make_http_dissector(), {AppProto::kHttp});
  // h2c: prior knowledge, or handed over by http after Upgrade: h2c + 101.
  add(s, make_http2_dissector(), {AppProto::kHttp2});
  // DTLS on UDP; stun: WebRTC's DTLS-SRTP handshake follows ICE on the same flow (RFC 7983).
  // quic: the ClientHello and ServerHello of its Initial packets (tls/quic.h).
  add(s, make_tls_dissector(), {AppProto::kTls, AppProto::kDtls, AppProto::kStun, AppProto::kQuic});
  add(s, make_socks_dissector(), {AppProto::kSocks});
  add(s, make_openvpn_dissector(), {AppProto::kOpenvpn});
  add(s, make_ike_dissector(), {AppProto::kIke});
  add(s, make_opcua_dissector(), {AppProto::kOpcua});
  add(s, make_starttls_dissector(),
      {AppProto::kSmtp, AppProto::kImap, AppProto::kPop3, AppProto::kFtp, AppProto::kXmpp});
  add(s, make_tlsup_dissector(),
      {AppProto::kMysql, AppProto::kPostgresql, AppProto::kLdap, AppProto::kRdp, AppProto::kAdb});
  return s;
}

}  // namespace flowscribe::dissect

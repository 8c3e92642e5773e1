#include "dissectors/registry.h"

#include <initializer_list>

#include "dissectors/dns/dns.h"
#include "dissectors/http/http.h"
#include "dissectors/starttls/starttls.h"
#include "dissectors/tls/tls.h"

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
  add(s, make_tls_dissector(), {AppProto::kTls});
  add(s, make_starttls_dissector(),
      {AppProto::kSmtp, AppProto::kImap, AppProto::kPop3, AppProto::kFtp, AppProto::kXmpp});
  return s;
}

}  // namespace flowscribe::dissect

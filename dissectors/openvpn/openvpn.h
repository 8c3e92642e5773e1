#pragma once
// OpenVPN control channel (docs/protocols.md, "OpenVPN"): OpenVPN carries a TLS handshake
// inside its own reliable control packets. This dissector de-frames them (TCP: a 2-byte length
// before each packet; UDP: one packet per datagram), finds the TLS bytes of each P_CONTROL_V1
// packet (after the session id, an optional tls-auth HMAC + packet-id + time, the ack array and
// the message packet-id), puts each direction's payloads back in packet-id order (duplicates
// dropped, up to 4 packets held per direction while an earlier one is missing) and feeds the
// ordered byte streams to an embedded TLS dissector (dissectors/tls), which writes the flow's
// `tls` and `x509` records (proto=openvpn). It stops at the first P_DATA packet (the handshake
// is over) or when the TLS dissector is done. Writes no records of its own.
//
// The tls-auth HMAC's length (16, 20, 32 or 64 bytes) is not known without the key: the plain
// layout is tried first, then each HMAC size, and the first that lines up (ack count <= 8, the
// acknowledged session id is the peer's, the message packet-id in the expected window, a TLS
// record header where a handshake starts) is kept for the flow. tls-crypt and tls-crypt-v2
// encrypt the control channel: such flows are counted and not read.
//
// Per flow: the embedded TLS state (~18 KiB), one 2 KiB packet buffer per direction (TCP) and
// 4 held payloads of up to 1600 bytes per direction: about 35 KiB.
#include <memory>

#include "common/counters.h"
#include "dissectors/dissector.h"

namespace flowscribe::dissect {

// X(name, help): documented in docs/counters.md "openvpn dissector".
#define FS_OPENVPN_COUNTERS(X)                                                                    \
  X(openvpn_flows, "OpenVPN flows read by the OpenVPN dissector")                                 \
  X(openvpn_control_packets, "control packets de-framed (both directions)")                      \
  X(openvpn_tls_bytes, "TLS bytes of P_CONTROL_V1 packets handed to the TLS dissector")         \
  X(openvpn_hmac_flows, "flows whose control packets carry a tls-auth HMAC")                     \
  X(openvpn_retransmits, "control packets whose message packet-id was already read: dropped")   \
  X(openvpn_reordered, "control packets held until an earlier packet-id arrived")                \
  X(openvpn_lost, "packet-ids skipped (held packets full or too far ahead): the TLS side gets a gap") \
  X(openvpn_unframed, "control packets whose layout did not line up with any HMAC size: skipped") \
  X(openvpn_unreadable, "flows given up: control packets unreadable (tls-crypt, not OpenVPN)")   \
  X(openvpn_tls_crypt_v2, "flows with tls-crypt-v2 packets (HARD_RESET_CLIENT_V3, WKC_V1): not read") \
  X(openvpn_bad_opcode, "packets with an unknown opcode or a length too short: the flow stops")   \
  X(openvpn_oversize, "TCP control packets over 2048 bytes: skipped, the TLS side gets a gap")    \
  X(openvpn_cut, "datagrams cut by the capture: skipped")                                         \
  X(openvpn_gap, "TCP gaps: the framing is lost, the flow stops")                                 \
  X(openvpn_data_start, "flows that reached their first P_DATA packet (handshake over)")         \
  X(openvpn_tls_done, "flows the embedded TLS dissector finished")                               \
  X(openvpn_tls_violation, "flows whose control payload was not TLS")

std::unique_ptr<Dissector> make_openvpn_dissector();

}  // namespace flowscribe::dissect

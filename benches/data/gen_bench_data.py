#!/usr/bin/env python3
"""Writes the bench inputs next to this script (committed; rerun only to change them).

`sipp-invite.sip` is not written here: it is the INVITE that
`shared/bench/scenarios/uac.xml` sends, captured once from sipp on loopback
(`sipp -sf uac.xml 127.0.0.1:5060 -i 127.0.0.1 -p 5061 -m 1`).
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(head, body=""):
    body = body.replace("\n", "\r\n").encode()
    head = head.strip("\n").replace("\n", "\r\n").replace("{CL}", str(len(body)))
    return head.encode() + b"\r\n\r\n" + body


def sdp_2k():
    lines = [
        "v=0",
        "o=alice 2890844526 2890844527 IN IP4 192.0.2.101",
        "s=Call with many codecs",
        "c=IN IP4 192.0.2.101",
        "t=0 0",
        "a=group:BUNDLE audio video",
        "m=audio 49170 RTP/AVP 0 8 9 18 96 97 98 101",
        "a=mid:audio",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 maxplaybackrate=48000;stereo=1;useinbandfec=1",
        "a=rtpmap:97 AMR-WB/16000",
        "a=fmtp:97 mode-set=0,1,2;octet-align=1",
        "a=rtpmap:98 AMR/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
        "a=rtcp:49171 IN IP4 192.0.2.101",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4",
        "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:4",
        "m=video 51372 RTP/AVP 100 102 104",
        "a=mid:video",
        "a=rtpmap:100 H264/90000",
        "a=fmtp:100 profile-level-id=42e01f;packetization-mode=1",
        "a=rtpmap:102 VP8/90000",
        "a=rtpmap:104 H263-1998/90000",
        "a=rtcp-fb:100 nack",
        "a=rtcp-fb:100 nack pli",
        "a=rtcp-fb:100 ccm fir",
        "a=rtcp-fb:102 nack",
        "a=rtcp-fb:102 goog-remb",
        "a=sendrecv",
    ]
    k = 0
    while len("\r\n".join(lines)) < 2000:
        lines.append("a=candidate:%d 1 UDP 2130706431 192.0.2.%d %d typ host" % (k, 10 + k, 50000 + k))
        k += 1
    return "\n".join(lines) + "\n"


FILES = {
    "invite-2k-sdp.sip": msg(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\n"
        "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\n"
        "Max-Forwards: 70\n"
        "To: Bob <sip:bob@biloxi.example.com>\n"
        "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\n"
        "CSeq: 314159 INVITE\n"
        "Contact: <sip:alice@pc33.atlanta.example.com>\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, REFER, NOTIFY\n"
        "Supported: replaces, timer, 100rel\n"
        "User-Agent: bench-ua/1.0\n"
        "Content-Type: application/sdp\n"
        "Content-Length: {CL}",
        sdp_2k()),
    "ok-200.sip": msg(
        "SIP/2.0 200 OK\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-proxy-1-0;rport=5060\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-5894-1-0;received=127.0.0.1\n"
        "Record-Route: <sip:127.0.0.1:5060;lr>\n"
        "From: sipp <sip:sipp@127.0.0.1:5061>;tag=5894SIPpTag001\n"
        "To: service <sip:service@127.0.0.1:5060>;tag=7120SIPpTag011\n"
        "Call-ID: 1-5894@127.0.0.1\n"
        "CSeq: 1 INVITE\n"
        "Contact: <sip:127.0.0.1:5070;transport=UDP>\n"
        "Content-Type: application/sdp\n"
        "Content-Length: {CL}",
        "v=0\n"
        "o=user1 53655765 2353687637 IN IP4 127.0.0.1\n"
        "s=-\n"
        "c=IN IP4 127.0.0.1\n"
        "t=0 0\n"
        "m=audio 6000 RTP/AVP 0\n"
        "a=rtpmap:0 PCMU/8000\n"),
    "register-digest.sip": msg(
        "REGISTER sip:registrar.biloxi.example.com SIP/2.0\n"
        "Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\n"
        "Max-Forwards: 70\n"
        "To: Bob <sip:bob@biloxi.example.com>\n"
        "From: Bob <sip:bob@biloxi.example.com>;tag=456248\n"
        "Call-ID: 843817637684230@998sdasdh09\n"
        "CSeq: 1826 REGISTER\n"
        "Contact: <sip:bob@192.0.2.4>;expires=7200\n"
        'Authorization: Digest username="bob", realm="biloxi.example.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:registrar.biloxi.example.com", '
        'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, '
        'cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001\n'
        "Expires: 7200\n"
        "User-Agent: bench-ua/1.0\n"
        "Content-Length: 0"),
    # An in-dialog request in compact forms (RFC 3261 §7.3.3), as some phones send them.
    "compact-indialog.sip": msg(
        "INFO sip:alice@192.0.2.101:5060;transport=udp SIP/2.0\n"
        "v: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-c3f1a9e2;rport\n"
        "Max-Forwards: 70\n"
        "Route: <sip:proxy.atlanta.example.com;lr>\n"
        "f: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\n"
        "t: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n"
        "i: a84b4c76e66710@pc33.atlanta.example.com\n"
        "CSeq: 2 INFO\n"
        "m: <sip:bob@198.51.100.7:5060>\n"
        "k: timer\n"
        "c: application/dtmf-relay\n"
        "l: {CL}",
        "Signal=5\nDuration=160\n"),
    # A 200 OK for an INVITE that crossed two proxies: two Vias and two Record-Routes.
    "ok-200-2via-rr.sip": msg(
        "SIP/2.0 200 OK\n"
        "Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.54\n"
        "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.101\n"
        "Record-Route: <sip:proxy2.biloxi.example.com;lr>\n"
        "Record-Route: <sip:proxy1.atlanta.example.com;lr>\n"
        "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n"
        "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\n"
        "CSeq: 314159 INVITE\n"
        "Contact: <sip:bob@192.0.2.4>\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, REFER, NOTIFY\n"
        "Supported: replaces, timer\n"
        "Content-Type: application/sdp\n"
        "Content-Length: {CL}",
        "v=0\n"
        "o=bob 2808844564 2808844564 IN IP4 192.0.2.4\n"
        "s=-\n"
        "c=IN IP4 192.0.2.4\n"
        "t=0 0\n"
        "m=audio 3456 RTP/AVP 0 8 101\n"
        "a=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:8 PCMA/8000\n"
        "a=rtpmap:101 telephone-event/8000\n"),
    # An in-dialog BYE through a record-routed dialog.
    "bye-indialog.sip": msg(
        "BYE sip:alice@192.0.2.101:5060 SIP/2.0\n"
        "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds10;rport\n"
        "Max-Forwards: 70\n"
        "Route: <sip:proxy2.biloxi.example.com;lr>\n"
        "Route: <sip:proxy1.atlanta.example.com;lr>\n"
        "From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\n"
        "To: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\n"
        "CSeq: 231 BYE\n"
        "User-Agent: bench-ua/1.0\n"
        "Content-Length: 0"),
    # A 3 KB INVITE as a phone behind two proxies sends it: three Vias, the usual
    # User-Agent / Allow / Supported / Allow-Events / P-Asserted-Identity headers, a
    # multi-codec SDP.
    "invite-3k.sip": msg(
        "INVITE sip:+15551234567@biloxi.example.com;user=phone SIP/2.0\n"
        "Via: SIP/2.0/UDP proxy2.biloxi.example.com:5060;branch=z9hG4bK721e4.1\n"
        "Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.54\n"
        "Via: SIP/2.0/UDP 10.0.0.23:5060;branch=z9hG4bK776asdhds;rport=40123;received=203.0.113.9\n"
        "Record-Route: <sip:proxy2.biloxi.example.com;lr>\n"
        "Record-Route: <sip:proxy1.atlanta.example.com;lr>\n"
        "Max-Forwards: 68\n"
        "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=1928301774\n"
        "To: <sip:+15551234567@biloxi.example.com;user=phone>\n"
        "Call-ID: a84b4c76e66710@10.0.0.23\n"
        "CSeq: 314159 INVITE\n"
        "Contact: <sip:alice@203.0.113.9:40123;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1\n"
        "P-Asserted-Identity: \"Alice Liddell\" <sip:alice@atlanta.example.com>\n"
        "P-Preferred-Identity: <tel:+15559876543>\n"
        "Privacy: none\n"
        "User-Agent: Yealink SIP-T46S 66.86.0.15\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, REFER, NOTIFY, INFO, MESSAGE, SUBSCRIBE\n"
        "Allow-Events: talk, hold, conference, refer, check-sync\n"
        "Supported: replaces, timer, 100rel, path, gruu, outbound\n"
        "Session-Expires: 1800;refresher=uac\n"
        "Min-SE: 90\n"
        "Accept: application/sdp, application/dtmf-relay\n"
        "Accept-Language: en\n"
        "Content-Type: application/sdp\n"
        "Content-Length: {CL}",
        sdp_2k()),
}

if __name__ == "__main__":
    for name, data in FILES.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print(name, len(data))

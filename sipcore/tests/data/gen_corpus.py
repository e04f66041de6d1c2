#!/usr/bin/env python3
"""Writes the parser corpus: one raw SIP message per file, CRLF line ends.

The cases follow the descriptions of RFC 4475 (SIP torture tests), RFC 5118 (IPv6
torture tests) and the RFC 3261 section 24 call flow; the values are ours. Each file
is committed, so this script only matters when a case is added or changed:

    python3 sipcore/tests/data/gen_corpus.py

`{CL}` in a head is replaced by the length of the body that follows it. Expected
verdicts and field values live in `sipcore/tests/corpus.rs`.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

SDP = (
    "v=0\n"
    "o=mhandley 29739 7272939 IN IP4 192.0.2.3\n"
    "s=-\n"
    "c=IN IP4 192.0.2.4\n"
    "t=0 0\n"
    "m=audio 49217 RTP/AVP 0 12\n"
    "m=video 3227 RTP/AVP 31\n"
    "a=rtpmap:31 LPC\n"
)


def crlf(text):
    """Lines of `text` (LF separated) with CRLF ends; a str becomes UTF-8 bytes."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return text.replace(b"\n", b"\r\n")


def msg(head, body=b""):
    """A message: `head` lines (no trailing empty line), then CRLF CRLF, then `body`."""
    body = crlf(body) if isinstance(body, str) else body
    head = crlf(head.strip("\n") if isinstance(head, str) else head.strip(b"\n"))
    head = head.replace(b"{CL}", str(len(body)).encode())
    return head + b"\r\n\r\n" + body


CASES = {}


def case(name, data):
    assert name not in CASES, name
    CASES[name] = data


# ---------------------------------------------------------------- RFC 4475 3.1.1 valid

case("wsinv.sip", msg(
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
    "TO :\n"
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\n'
    "  ;\n"
    "  tag = 98asjd8\n"
    "MaX-fOrWaRdS: 0068\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\n"
    "Content-Length   : {CL}\n"
    "cseq: 0009\n"
    "  INVITE\n"
    "Via  : SIP  /   2.0\n"
    " /UDP\n"
    "    192.0.2.2;branch=390skdjuw\n"
    "s :\n"
    "NewFangledHeader:   newfangled value\n"
    " continued newfangled value\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
    "Content-Type: application/sdp\n"
    "Route:\n"
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n"
    "  branch  =   z9hG4bK9ikj8  ,\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n"
    " z9hG4bK30239\n"
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\n'
    "      newvalue ;\n"
    "  secondparam ; q = 0.33",
    SDP))

case("intmeth.sip", msg(
    b"!interesting-Method0123456789_*+`.%indeed'~ "
    b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
    b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>\n'
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
    + '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"'.encode("utf-8")
    + b";tag=_token~1'+`*%!-.\n"
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
    b"Max-Forwards: 255\n"
    b"extensionHeader-!.%*+_`'~: " + "\u5927\u505c\u96fb".encode("utf-8") + b"\n"
    b"Content-Length: 0"))

case("esc01.sip", msg(
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\n"
    "To: sip:%75se%72@example.com\n"
    "From: <sip:I%20have%20spaces@example.net>;tag=938\n"
    "Max-Forwards: 87\n"
    "i: esc01.239409asdfakjkn23onasd0-3234\n"
    "CSeq: 234234 INVITE\n"
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\n"
    "C: application/sdp\n"
    "Contact:\n"
    "  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\n"
    "Content-Length: {CL}",
    SDP))

case("escnull.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:null-%00-null@example.com\n"
    "From: sip:null-%00-null@example.com;tag=839923423\n"
    "Max-Forwards: 70\n"
    "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\n"
    "CSeq: 14398234 REGISTER\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
    "Contact: <sip:%00@host5.example.com>\n"
    "Contact: <sip:%00%00@host5.example.com>\n"
    "L:0"))

case("esc02.sip", msg(
    "RE%47IST%45R sip:registrar.example.com SIP/2.0\n"
    'To: "%Z%45" <sip:resource@example.com>\n'
    'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23\n'
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\n"
    "Via: SIP/2.0/TCP host.example.com;rport;branch=z9hG4bK209323\n"
    "CSeq: 29344 RE%47IST%45R\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:alias1@host1.example.com>\n"
    "C%6Fntact: <sip:alias2@host2.example.com>\n"
    "Contact: <sip:alias3@host3.example.com>\n"
    "l: 0"))

case("lwsdisp.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: caller<sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID: lwsdisp.1234abcd@funky.example.com\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\n"
    "l: 0"))

_EXT = "extreme" * 40
_LONG = "long" * 50
_VIAS = "".join(
    "%s: SIP/2.0/TCP sip%d.example.com\n" % (("Via", "v", "V")[k % 3], 32 - k)
    for k in range(32))
case("longreq.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    'To: "I have a user name of %s proportion"<sip:user@example.com:6000;'
    "unknownparam1=very%svalue;%sparamname=shortvalue;"
    "very%sParameterNameWithNoValue>\n" % (_EXT, _LONG, _LONG, _LONG)
    + "F: sip:amazinglylongcallername%s@example.net;tag=12%s;"
    "unknownheaderparam%sname=unknowheaderparam%svalue;"
    "unknownValueless%sparamname\n" % (_LONG, "982" * 60, _LONG, _LONG, _LONG)
    + "Call-ID: longreq.%s\n" % ("one" * 100)
    + "CSeq: 3882340 INVITE\n"
    "Unknown-%s-Name: unknown-%s-value; unknown-%s-parameter-name = unknown-%s-parameter-value\n"
    % (_LONG, _LONG, _LONG, _LONG)
    + "Via: SIP/2.0/TCP sip33.example.com;branch=z9hG4bK%s\n" % ("longbranch" * 30)
    + _VIAS
    + "Max-Forwards: 70\n"
    "Contact: <sip:amazinglylongcallername%s@host5.example.net>\n" % _LONG
    + "Content-Type: application/sdp\n"
    "l: {CL}",
    SDP))

case("dblreq.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:j.user@example.com;tag=43251j3j324\n"
    "Max-Forwards: 8\n"
    "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\n"
    "Contact: sip:j.user@host.example.com\n"
    "CSeq: 8 REGISTER\n"
    "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\n"
    "Content-Length: 0")
    + msg(
    "INVITE sip:joe@example.com SIP/2.0\n"
    "t: sip:joe@example.com\n"
    "From: sip:caller@example.net;tag=141334\n"
    "Max-Forwards: 8\n"
    "Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    SDP))

case("semiuri.sip", msg(
    "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "From: sip:caller@example.org;tag=33242\n"
    "Max-Forwards: 3\n"
    "Call-ID: semiuri.0ha0isndaksdj\n"
    "CSeq: 8 OPTIONS\n"
    "Accept: application/sdp, application/pkcs7-mime,\n"
    "        multipart/mixed, multipart/signed,\n"
    "        message/sip, message/sipfrag\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\n"
    "l: 0"))

case("transports.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: <sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID:  transports.kijh4akdnaqjkwendsasfdj\n"
    "Accept: application/sdp\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\n"
    "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n"
    "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\n"
    "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n"
    "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\n"
    "l: 0"))

# A binary S/MIME-like part: NUL, bare CR, bare LF and even CRLF CRLF inside the body,
# which only Content-Length can frame.
_BIN = bytes([
    0x30, 0x82, 0x01, 0x52, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07,
    0x02, 0xA0, 0x82, 0x01, 0x43, 0x30, 0x82, 0x01, 0x3F, 0x02, 0x01, 0x01, 0x31, 0x0B,
    0x00, 0x00, 0x0D, 0x0D, 0x0A, 0x0D, 0x0A, 0x0A, 0x0D, 0x00, 0xFF, 0xFE, 0x0D, 0x0A,
    0x0D, 0x0A, 0x2D, 0x2D, 0x00, 0x7F, 0x80, 0x0D,
]) + bytes(range(256))
_MPART = (
    crlf("--7a9cbec02ceef655\n"
         "Content-Type: text/plain\n"
         "Content-Transfer-Encoding: binary\n"
         "\n"
         "Hello\n"
         "--7a9cbec02ceef655\n"
         "Content-Type: application/pkcs7-signature; name=smime.p7s\n"
         "Content-Transfer-Encoding: binary\n"
         "Content-Disposition: attachment; handling=required; filename=smime.p7s\n"
         "\n")
    + _BIN
    + crlf("\n--7a9cbec02ceef655--\n"))
case("mpart01.sip", msg(
    "MESSAGE sip:kumiko@example.org SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\n"
    "Max-Forwards: 70\n"
    "Route: <sip:127.0.0.1:5080>\n"
    "Identity-Info: <https://127.0.0.1:5080/cert>;alg=rsa-sha1\n"
    "Contact: <sip:fluffy@127.0.0.1:5070>\n"
    "To: <sip:kumiko@example.org>\n"
    "From: <sip:fluffy@example.com>;tag=2fb0dcc9\n"
    "Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\n"
    "CSeq: 1 MESSAGE\n"
    "Accept: multipart/mixed, application/sdp, text/plain\n"
    "Content-Transfer-Encoding: binary\n"
    "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\n"
    "Date: Sat, 15 Oct 2005 04:44:56 GMT\n"
    "User-Agent: SIPimp.org/0.2.5 (curses)\n"
    "Content-Length: {CL}",
    _MPART))

case("unreason.sip", msg(
    "SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e "
    "\u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e "
    "\u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf\n"
    "CSeq: 35 INVITE\n"
    "From: sip:user@example.com;tag=11141343\n"
    "To: sip:user@example.edu;tag=2229\n"
    "Content-Length: {CL}\n"
    "Content-Type: application/sdp\n"
    "Contact: <sip:user@host198.example.com>",
    SDP))

case("noreason.sip", msg(
    "SIP/2.0 100 \n"
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    "Call-ID: noreason.asndj203insdf99223ndf\n"
    "CSeq: 35 INVITE\n"
    "From: <sip:user@example.com>;tag=39ansfi3\n"
    "To: <sip:user@example.edu>;tag=902jndnke3\n"
    "Content-Length: 0\n"
    "Contact: <sip:user@host105.example.com>"))

# ---------------------------------------------------------------- RFC 4475 3.1.2 invalid

case("badinv01.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;;tag=134161461246\n"
    "Max-Forwards: 7\n"
    "Call-ID: badinv01.0ha0isndaksdjasdf3234nas\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.15;;,;,,\n"
    'Contact: "Joe" <sip:joe@example.org>;;;;\n'
    "Content-Length: {CL}\n"
    "Content-Type: application/sdp",
    SDP))

case("clerr.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "Max-Forwards: 80\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=93942939o2\n"
    "Contact: <sip:caller@hungry.example.net>\n"
    "Call-ID: clerr.0ha0isndaksdjweiafasdk3\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\n"
    "Content-Type: application/sdp\n"
    "Content-Length: 9999",
    SDP))

case("ncl.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "Max-Forwards: 254\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=32394234\n"
    "Call-ID: ncl.0ha0isndaksdj2193423r542w35\n"
    "CSeq: 0 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\n"
    "Contact: <sip:caller@example53.example.net>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: -999",
    SDP))

case("scalar02.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\n"
    "To: <sip:user@example.com>\n"
    "From: <sip:user@example.com>;tag=239232jh3\n"
    "CSeq: 36893488147419103232 REGISTER\n"
    "Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\n"
    "Max-Forwards: 300\n"
    "Expires: 1" + "0" * 100 + "\n"
    "Contact: <sip:user@host129.example.com>\n"
    "  ;expires=280297596632815\n"
    "Content-Length: 0"))

case("scalarlg.sip", msg(
    "SIP/2.0 503 Service Unavailable\n"
    "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\n"
    "To: <sip:user@example.com>\n"
    "From: <sip:other@example.net>;tag=2easdjfejw\n"
    "CSeq: 9292394834772304023312 OPTIONS\n"
    "Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\n"
    "Retry-After: 949302838503028349304023988\n"
    'Warning: 1812 overture "In Progress"\n'
    "Content-Length: 0"))

case("quotbal.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    'To: "Mr. J. User <sip:j.user@example.com>\n'
    "From: sip:caller@example.net;tag=93334\n"
    "Max-Forwards: 10\n"
    "Call-ID: quotbal.aksdj\n"
    "Contact: <sip:caller@host59.example.net>\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    SDP))

case("ltgtruri.sip", msg(
    "INVITE <sip:user@example.com> SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=39291\n"
    "Max-Forwards: 23\n"
    "Call-ID: ltgtruri.1@192.0.2.5\n"
    "CSeq: 1 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.5\n"
    "Contact: <sip:caller@host5.example.net>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    SDP))

case("lwsruri.sip", msg(
    "INVITE sip:user@example.com; lr SIP/2.0\n"
    "To: sip:user@example.com;tag=3xfe-9921883-z9f\n"
    "From: sip:caller@example.net;tag=231413434\n"
    "Max-Forwards: 5\n"
    "Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\n"
    "CSeq: 2130706432 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\n"
    "Contact: <sip:caller@host1.example.net>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    SDP))

case("lwsstart.sip", msg(
    "INVITE  sip:user@example.com  SIP/2.0\n"
    "Max-Forwards: 8\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=8814\n"
    "Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\n"
    "CSeq: 1893884 INVITE\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\n"
    "Contact: <sip:caller@host1.example.net>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    SDP))

case("trws.sip", msg(
    "OPTIONS sip:remote-target@example.com SIP/2.0  \n"
    "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK299342093\n"
    "To: <sip:remote-target@example.com>\n"
    "From: <sip:local-resource@example.com>;tag=329429089\n"
    "Call-ID: trws.oicu34958239neffasdhr2345r\n"
    "Accept: application/sdp\n"
    "CSeq: 238923 OPTIONS\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0"))

case("escruri.sip", msg(
    "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=341518\n"
    "Max-Forwards: 7\n"
    "Contact: <sip:caller@host39923.example.net>\n"
    "Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\n"
    "CSeq: 149209342 INVITE\n"
    "Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    SDP))

case("baddate.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=2234923\n"
    "Max-Forwards: 70\n"
    "Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\n"
    "CSeq: 1392934 INVITE\n"
    "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n"
    "Date: Fri, 01 Jan 2010 16:00:00 EST\n"
    "Contact: <sip:caller@host5.example.net>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    SDP))

case("regbadct.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=998332\n"
    "Max-Forwards: 70\n"
    "Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\n"
    "CSeq: 1 REGISTER\n"
    "Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\n"
    "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\n"
    "l: 0"))

case("badaspec.sip", msg(
    "OPTIONS sip:user@example.org SIP/2.0\n"
    "Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\n"
    "Max-Forwards: 70\n"
    'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423\n'
    'To: "Watson, Thomas" < sip:t.watson@example.org >\n'
    "Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\n"
    "Accept: application/sdp\n"
    "CSeq: 3923239 OPTIONS\n"
    "l: 0"))

case("baddn.sip", msg(
    "OPTIONS sip:t.watson@example.org SIP/2.0\n"
    "Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n"
    "Max-Forwards:      70\n"
    "From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n"
    "To:      Watson, Thomas <sip:t.watson@example.org>\n"
    "Call-ID: baddn.31415@c.example.com\n"
    "Accept: application/sdp\n"
    "CSeq:    3923239 OPTIONS\n"
    "l: 0"))

case("badvers.sip", msg(
    "OPTIONS sip:t.watson@example.org SIP/7.0\n"
    "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\n"
    "Max-Forwards:     70\n"
    "From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\n"
    "To:      T. Watson <sip:t.watson@example.org>\n"
    "Call-ID: badvers.31417@c.example.com\n"
    "CSeq:    1 OPTIONS\n"
    "l: 0"))

case("mismatch01.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=34525\n"
    "Max-Forwards: 6\n"
    "Call-ID: mismatch01.dj0234sxdfl3\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n"
    "l: 0"))

case("mismatch02.sip", msg(
    "NEWMETHOD sip:user@example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=34525\n"
    "Max-Forwards: 6\n"
    "Call-ID: mismatch02.dj0234sxdfl3\n"
    "CSeq: 8 INVITE\n"
    "Contact: <sip:caller@host.example.net>\n"
    "Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\n"
    "Content-Type: application/sdp\n"
    "l: {CL}",
    SDP))

case("bigcode.sip", msg(
    "SIP/2.0 4294967301 better not break the receiver\n"
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\n"
    "CSeq: 353494 INVITE\n"
    "From: <sip:user@example.com>;tag=39ansfi3\n"
    "To: <sip:user@example.edu>;tag=902jndnke3\n"
    "Content-Length: 0\n"
    "Contact: <sip:user@host105.example.com>"))

# ---------------------------------------------------------------- RFC 4475 3.2 transaction layer

case("badbranch.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.org;tag=33242\n"
    "Max-Forwards: 3\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\n"
    "Accept: application/sdp\n"
    "Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n\n"
    "CSeq: 8 OPTIONS\n"
    "l: 0"))

# ---------------------------------------------------------------- RFC 4475 3.3 application layer

case("insuf.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "CSeq: 193942 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\n"
    "Content-Type: application/sdp\n"
    "l: {CL}",
    SDP))

case("unkscm.sip", msg(
    "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=384\n"
    "Max-Forwards: 3\n"
    "Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\n"
    "CSeq: 3923423 OPTIONS\n"
    "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
    "Content-Length: 0"))

case("novelsc.sip", msg(
    "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=384\n"
    "Max-Forwards: 3\n"
    "Call-ID: novelsc.asdfasser0q239nwsdfasdkl34\n"
    "CSeq: 3923423 OPTIONS\n"
    "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
    "Content-Length: 0"))

case("unksm2.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: isbn:2983792873\n"
    "From: <http://www.example.com>;tag=3234233\n"
    "Call-ID: unksm2.daksdj@hyphenated-host.example.com\n"
    "CSeq: 234902 REGISTER\n"
    "Max-Forwards: 70\n"
    "Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\n"
    "Contact: <name:John_Smith>\n"
    "l: 0"))

case("bext01.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "From: sip:caller@example.net;tag=242etr\n"
    "Max-Forwards: 6\n"
    "Call-ID: bext01.0ha0isndaksdj\n"
    "Require: nothingSupportsThis, nothingSupportsThisEither\n"
    "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\n"
    "CSeq: 8 OPTIONS\n"
    "Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\n"
    "Content-Length: 0"))

case("invut.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "Contact: <sip:caller@host5.example.net>\n"
    "To: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=8392034\n"
    "Max-Forwards: 70\n"
    "Call-ID: invut.0ha0isndaksdjadsfij34n23d\n"
    "CSeq: 235448 INVITE\n"
    "Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\n"
    "Content-Type: application/unknownformat\n"
    "Content-Length: {CL}",
    b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n"))

case("regaut01.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:j.user@example.com;tag=87321hj23128\n"
    "Max-Forwards: 8\n"
    "Call-ID: regaut01.0ha0isndaksdj\n"
    "CSeq: 9338 REGISTER\n"
    "Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\n"
    "Authorization: NoOneKnowsThisScheme opaque-data=here\n"
    "Content-Length:0"))

case("multi01.sip", msg(
    "INVITE sip:user@company.com SIP/2.0\n"
    "Contact: <sip:caller@host25.example.net>\n"
    "Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\n"
    "Max-Forwards: 70\n"
    "CSeq: 5 INVITE\n"
    "Call-ID: multi01.98asdh@192.0.2.1\n"
    "CSeq: 59 INVITE\n"
    "Call-ID: multi01.98asdh@192.0.2.2\n"
    "From: sip:caller@example.com;tag=3413415\n"
    "To: sip:user@example.com\n"
    "To: sip:other@example.net\n"
    "From: sip:caller@example.net;tag=2923420123\n"
    "Content-Type: application/sdp\n"
    "l: {CL}\n"
    "Call-ID: multi01.98asdh@192.0.2.3\n"
    "Max-Forwards: 5",
    SDP))

case("mcl01.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\n"
    "To: <sip:user@example.com>\n"
    "From: <sip:other@example.net>;tag=3923942\n"
    "Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\n"
    "CSeq: 15932 OPTIONS\n"
    "Content-Length: 13\n"
    "Max-Forwards: 60\n"
    "Content-Length: 5\n"
    "Content-Type: text/plain",
    "There's no way to know how many octets are supposed to be here.\n"))

case("bcast.sip", msg(
    "SIP/2.0 200 OK\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
    "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\n"
    "Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\n"
    "CSeq: 35 INVITE\n"
    "From: sip:user@example.com;tag=11141343\n"
    "To: sip:user@example.edu;tag=2229\n"
    "Content-Length: {CL}\n"
    "Content-Type: application/sdp\n"
    "Contact: <sip:user@host28.example.com>",
    SDP))

case("zeromf.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=3ghsd41\n"
    "Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\n"
    "CSeq: 39234321 OPTIONS\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\n"
    "Max-Forwards: 0\n"
    "Content-Length: 0"))

case("cparam01.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\n"
    "Max-Forwards: 70\n"
    "From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\n"
    "To: sip:watson@example.com\n"
    "Call-ID: cparam01.70710@saturn.example.com\n"
    "CSeq: 2 REGISTER\n"
    "Contact: sip:+19725552222@gw1.example.net;unknownparam\n"
    "l: 0"))

case("cparam02.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\n"
    "Max-Forwards: 70\n"
    "From: sip:watson@example.com;tag=838293\n"
    "To: sip:watson@example.com\n"
    "Call-ID: cparam02.70710@saturn.example.com\n"
    "CSeq: 3 REGISTER\n"
    "Contact: <sip:+19725552222@gw1.example.net;unknownparam>\n"
    "l: 0"))

case("regescrt.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=8\n"
    "Max-Forwards: 70\n"
    "Call-ID: regescrt.k345asrl3fdbv@192.0.2.1\n"
    "CSeq: 14398234 REGISTER\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
    "M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\n"
    "L:0"))

case("sdp01.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "Contact: <sip:caller@host15.example.net>\n"
    "From: sip:caller@example.net;tag=234\n"
    "Max-Forwards: 5\n"
    "Call-ID: sdp01.ndaksdj9342dasdd\n"
    "Accept: text/nobodyKnowsThis\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 60.63.78.121;branch=z9hG4bKkdjuw\n"
    "Content-Length: {CL}\n"
    "Content-Type: application/sdp",
    SDP))

# ---------------------------------------------------------------- RFC 4475 3.4 backward compatibility

case("inv2543.sip", msg(
    "INVITE sip:UserB@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP iftgw.example.com\n"
    "From: <sip:+13035551111@ift.client.example.net;user=phone>\n"
    "Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\n"
    "To: sip:+16505552222@ss1.example.net;user=phone\n"
    "Call-ID: inv2543.1717@ift.client.example.com\n"
    "CSeq: 56 INVITE\n"
    "Content-Type: application/sdp",
    SDP))

# ---------------------------------------------------------------- RFC 5118 (IPv6)

case("ipv6-good.sip", msg(
    "REGISTER sip:[2001:db8::10] SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Max-Forwards: 70\n"
    'Contact: "Caller" <sip:caller@[2001:db8::1]>\n'
    "CSeq: 98176 REGISTER\n"
    "Content-Length: 0"))

case("ipv6-bad.sip", msg(
    "REGISTER sip:2001:db8::10 SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Max-Forwards: 70\n"
    'Contact: "Caller" <sip:caller@[2001:db8::1]>\n'
    "CSeq: 98176 REGISTER\n"
    "Content-Length: 0"))

case("port-ambiguous.sip", msg(
    "REGISTER sip:[2001:db8::10:5070] SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Max-Forwards: 70\n"
    'Contact: "Caller" <sip:caller@[2001:db8::1]>\n'
    "CSeq: 98176 REGISTER\n"
    "Content-Length: 0"))

case("port-unambiguous.sip", msg(
    "REGISTER sip:[2001:db8::10]:5070 SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Max-Forwards: 70\n"
    'Contact: "Caller" <sip:caller@[2001:db8::1]>\n'
    "CSeq: 98176 REGISTER\n"
    "Content-Length: 0"))

case("via-received-param-with-delim.sip", msg(
    "BYE sip:[2001:db8::10] SIP/2.0\n"
    "To: sip:user@example.com;tag=bd76ya\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Max-Forwards: 70\n"
    "CSeq: 321723 BYE\n"
    "Content-Length: 0"))

case("via-received-param-no-delim.sip", msg(
    "OPTIONS sip:[2001:db8::10] SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Max-Forwards: 70\n"
    "CSeq: 921213 OPTIONS\n"
    "Content-Length: 0"))

_SDP6 = (
    "v=0\n"
    "o=assistant 971731711378798081 0 IN IP6 ::ffff:192.0.2.10\n"
    "s=Live video feed\n"
    "c=IN IP6 ::ffff:192.0.2.10\n"
    "t=0 0\n"
    "m=video 3227 RTP/AVP 31\n"
    "a=rtpmap:31 LPC\n"
)
case("ipv4-mapped.sip", msg(
    "INVITE sip:user@[::ffff:192.0.2.10] SIP/2.0\n"
    "To: sip:user@[::ffff:192.0.2.10]\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [::ffff:192.0.2.151];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Contact: \"T. desk phone\" <sip:ted@[::ffff:192.0.2.151]>\n"
    "CSeq: 612 INVITE\n"
    "Max-Forwards: 70\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    _SDP6))

case("ipv6-correct-abnf-2-colons.sip", msg(
    "OPTIONS sip:user@[2001:db8::192.0.2.1] SIP/2.0\n"
    "To: sip:user@[2001:db8::192.0.2.1]\n"
    "From: sip:user@example.com;tag=810x2\n"
    "Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111\n"
    "Call-ID: G9559905523997077@hlau_4100\n"
    "CSeq: 689 OPTIONS\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0"))

case("ipv6-incorrect-abnf-3-colons.sip", msg(
    "OPTIONS sip:user@[2001:db8:::192.0.2.1] SIP/2.0\n"
    "To: sip:user@[2001:db8:::192.0.2.1]\n"
    "From: sip:user@example.com;tag=810x2\n"
    "Via: SIP/2.0/UDP lab1.east.example.com;branch=z9hG4bKas3-111\n"
    "Call-ID: G9559905523997077@hlau_4100\n"
    "CSeq: 689 OPTIONS\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0"))

case("mult-ip-in-header.sip", msg(
    "BYE sip:user@host.example.net SIP/2.0\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144\n"
    "Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200\n"
    "Call-ID: 997077@lau_4100\n"
    "Max-Forwards: 70\n"
    "CSeq: 89187 BYE\n"
    "To: sip:user@example.net;tag=9817--94\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Content-Length: 0"))

_SDP_MULT = (
    "v=0\n"
    "o=bob 280744730 28977631 IN IP4 host.example.com\n"
    "s=\n"
    "t=0 0\n"
    "m=audio 22334 RTP/AVP 0\n"
    "c=IN IP4 192.0.2.1\n"
    "m=video 6024 RTP/AVP 107\n"
    "c=IN IP6 2001:db8::1\n"
    "a=rtpmap:107 H263-1998/90000\n"
)
case("mult-ip-in-sdp.sip", msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@east.example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Contact: \"Caller\" <sip:caller@[2001:db8::9:1]>\n"
    "Max-Forwards: 70\n"
    "CSeq: 8912 INVITE\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    _SDP_MULT))

# ---------------------------------------------------------------- RFC 3261 section 24 call flow

_SDP_ALICE = (
    "v=0\n"
    "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\n"
    "s=Session SDP\n"
    "c=IN IP4 192.0.2.101\n"
    "t=0 0\n"
    "m=audio 49172 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n"
)
case("3261-invite.sip", msg(
    "INVITE sip:bob@biloxi.example.com SIP/2.0\n"
    "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\n"
    "Max-Forwards: 70\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
    "To: Bob <sip:bob@biloxi.example.com>\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 1 INVITE\n"
    "Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    _SDP_ALICE))

case("3261-180.sip", msg(
    "SIP/2.0 180 Ringing\n"
    "Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\n"
    " ;received=192.0.2.101\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 1 INVITE\n"
    "Contact: <sip:bob@client.biloxi.example.com;transport=tcp>\n"
    "Content-Length: 0"))

case("3261-register.sip", msg(
    "REGISTER sips:ss2.biloxi.example.com SIP/2.0\n"
    "Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7\n"
    "Max-Forwards: 70\n"
    "From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl\n"
    "To: Bob <sips:bob@biloxi.example.com>\n"
    "Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com\n"
    "CSeq: 2 REGISTER\n"
    "Contact: <sips:bob@client.biloxi.example.com>\n"
    'Authorization: Digest username="bob", realm="atlanta.example.com",\n'
    ' nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="",\n'
    ' uri="sips:ss2.biloxi.example.com",\n'
    ' response="dfe56131d1958046689d83306477ecc"\n'
    "Content-Length: 0"))

case("3261-proxied-invite.sip", msg(
    "INVITE sip:bob@192.0.2.4 SIP/2.0\n"
    "Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1\n"
    "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\n"
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\n"
    "   ;received=192.0.2.1\n"
    "Max-Forwards: 68\n"
    "To: Bob <sip:bob@biloxi.com>\n"
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774\n"
    "Call-ID: a84b4c76e66710\n"
    "CSeq: 314159 INVITE\n"
    "Contact: <sip:alice@pc33.atlanta.com>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: {CL}",
    _SDP_ALICE))

# ---------------------------------------------------------------- our own edge cases

case("trailing.sip", msg(
    "SIP/2.0 180 Ringing\n"
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\n"
    "From: <sip:alice@atlanta.com>;tag=1928301774\n"
    "To: <sip:bob@biloxi.com>;tag=a6c85cf\n"
    "Call-ID: trailing.a84b4c76e66710\n"
    "CSeq: 1 INVITE\n"
    "Content-Length: 2",
    b"hi") + b"trailing junk \x00\xff after the body")

case("leadcrlf.sip", b"\r\n\r\n" + msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKlead\n"
    "From: <sip:caller@example.net>;tag=1\n"
    "To: <sip:user@example.com>\n"
    "Call-ID: leadcrlf.1\n"
    "CSeq: 1 OPTIONS\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0"))

case("code700.sip", msg(
    "SIP/2.0 700 Beyond Global\n"
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\n"
    "Call-ID: code700.1\n"
    "CSeq: 1 INVITE\n"
    "Content-Length: 0"))

case("code2digit.sip", msg(
    "SIP/2.0 20 OK\n"
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\n"
    "Call-ID: code2digit.1\n"
    "CSeq: 1 INVITE\n"
    "Content-Length: 0"))

case("clnonnum.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKclnn\n"
    "From: <sip:caller@example.net>;tag=1\n"
    "To: <sip:user@example.com>\n"
    "Call-ID: clnonnum.1\n"
    "CSeq: 1 OPTIONS\n"
    "Max-Forwards: 70\n"
    "Content-Length: twelve"))

case("cseq-overflow.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKcsov\n"
    "From: <sip:caller@example.net>;tag=1\n"
    "To: <sip:user@example.com>\n"
    "Call-ID: cseq-overflow.1\n"
    "CSeq: 4294967296 OPTIONS\n"
    "Max-Forwards: 256\n"
    "Content-Length: 0"))

case("cseq-max.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKcsmx\n"
    "From: <sip:caller@example.net>;tag=1\n"
    "To: <sip:user@example.com>\n"
    "Call-ID: cseq-max.1\n"
    "CSeq: 4294967295 OPTIONS\n"
    "Max-Forwards: 255\n"
    "Content-Length: 0"))

case("barelf.sip",
     b"OPTIONS sip:user@example.com SIP/2.0\n"
     b"Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKlf\n"
     b"Call-ID: barelf.1\n"
     b"CSeq: 1 OPTIONS\n"
     b"Content-Length: 0\n\n")

case("noheadend.sip",
     crlf("OPTIONS sip:user@example.com SIP/2.0\n"
          "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKnhe\n"
          "Call-ID: noheadend.1\n"
          "CSeq: 1 OPTIONS\n"))

case("manyhdrs.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKmany\n"
    + "".join("X-H%d: v\n" % k for k in range(1100))
    + "Content-Length: 0"))

case("viaemptyparam.sip", msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=\n"
    "From: <sip:caller@example.net>;tag=1\n"
    "To: <sip:user@example.com>\n"
    "Call-ID: viaemptyparam.1\n"
    "CSeq: 1 OPTIONS\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0"))

case("contactsemi.sip", msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKcsemi\n"
    "From: <sip:user@example.com>;tag=1\n"
    "To: <sip:user@example.com>\n"
    "Call-ID: contactsemi.1\n"
    "CSeq: 1 REGISTER\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:user@192.0.2.1>;expires=\n"
    "Content-Length: 0"))

case("method-lower.sip", msg(
    "invite sip:user@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKlower\n"
    "From: <sip:caller@example.net>;tag=1\n"
    "To: <sip:user@example.com>\n"
    "Call-ID: method-lower.1\n"
    "CSeq: 1 invite\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0"))

case("sipp-invite.sip", open(
    os.path.join(HERE, "..", "..", "..", "benches", "data", "sipp-invite.sip"), "rb").read())


def main():
    for name, data in sorted(CASES.items()):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print("%d cases written" % len(CASES))


if __name__ == "__main__":
    main()

"""The audit scanner's hand-built probes and the readers of their answers: requests as their
specifications lay them out, answers read into what identifies a device, and any bytes at
all (a hostile or broken device) read into None rather than an exception."""

from __future__ import annotations

import struct
import uuid

from hypothesis import given
from hypothesis import strategies as st

from mfpd.codecs import snmp
from mfpd.port_audit import probes


def test_the_snmp_probe_is_a_v1_get_of_sysdescr_and_its_answer_is_read() -> None:
    request = snmp.decode_request(probes.snmp_get("public", 0x1234))
    assert request is not None
    assert (request.version, request.community, request.request_id) == (0, b"public", 0x1234)
    assert request.names == (probes.SYS_DESCR,)
    descr = b"Xerox WorkCentre 7755"
    varbind = snmp.encode_varbind(snmp.encode_oid(probes.SYS_DESCR), snmp.encode_tlv(4, descr))
    answer = snmp.encode_response(0, b"public", 0x1234, 0, 0, [varbind])
    assert probes.snmp_value(answer) == descr.decode()
    # noSuchName (error-status 2): not an identification.
    assert probes.snmp_value(snmp.encode_response(0, b"public", 1, 2, 1, [varbind])) is None


def test_pjl_lpd_and_tls_answers() -> None:
    assert probes.pjl_id(b'@PJL INFO ID\r\n"Xerox WorkCentre 7755"\r\n\x0c') == (
        "Xerox WorkCentre 7755"
    )
    assert probes.pjl_id(b"HTTP/1.1 400 Bad Request\r\n\r\n") is None
    assert probes.lpd_queue_state("lp") == b"\x04lp\n"
    assert probes.lpd_answer(b"lp is ready\nno entries\n") == "lp is ready"
    assert probes.tls_alert(b"\x15\x03\x03\x00\x02\x02\x28")
    assert not probes.tls_alert(b"\x15\x03\x03")


def test_the_ipp_request_and_an_answer() -> None:
    request = probes.ipp_get_printer_attributes("ipp://h:631/ipp/print")
    assert request[:8] == b"\x01\x01\x00\x0b\x00\x00\x00\x01" and request.endswith(b"\x03")

    def attr(tag: int, name: str, value: bytes) -> bytes:
        return (
            struct.pack(">BH", tag, len(name))
            + name.encode()
            + struct.pack(">H", len(value))
            + value
        )

    answer = (
        b"\x02\x00\x00\x00\x00\x00\x00\x01\x01"
        + attr(0x47, "attributes-charset", b"utf-8")
        + b"\x04"
        + attr(0x41, "printer-make-and-model", b"Xerox WorkCentre 7755")
        + b"\x03"
    )
    assert probes.ipp_attributes(answer) == {
        "attributes-charset": "utf-8",
        "printer-make-and-model": "Xerox WorkCentre 7755",
    }


def test_http_answers_chunked_or_not() -> None:
    answer = probes.http_answer(
        b"HTTP/1.1 200 OK\r\nServer: Printer\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"7\r\n<title>\r\n9\r\nWC 7755</\r\n6\r\ntitle>\r\n0\r\n\r\n"
    )
    assert answer is not None and (answer.status, answer.server, answer.title) == (
        200, "Printer", "WC 7755",
    )  # fmt: skip


def test_slp_request_and_reply() -> None:
    request = probes.slp_service_request(7)
    assert request[:2] == b"\x02\x01" and int.from_bytes(request[2:5], "big") == len(request)
    url = b"service:printer:ipp://h:631/ipp/print"
    reply = (
        b"\x02\x02" + (0).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x00\x07\x00\x02en"
        + b"\x00\x00\x00\x01" + b"\x00\x00\x3c" + struct.pack(">H", len(url)) + url + b"\x00"
    )  # fmt: skip
    assert probes.slp_urls(reply) == [url.decode()]


def test_nbns_node_status_request_and_response() -> None:
    request = probes.nbns_node_status(0x4242)
    assert request[12:14] == b"\x20\x43" and request.endswith(b"\x00\x21\x00\x01")  # "*" = CK
    names = b"XRX-WC7755".ljust(15) + b"\x00\x04\x00" + b"WORKGROUP".ljust(15) + b"\x00\x84\x00"
    rdata = b"\x02" + names + bytes(46)
    response = (
        struct.pack(">HHHHHH", 0x4242, 0x8400, 0, 1, 0, 0) + request[12:46]
        + struct.pack(">HHIH", 0x21, 1, 0, len(rdata)) + rdata
    )  # fmt: skip
    assert probes.nbns_names(response) == ["XRX-WC7755<00>", "WORKGROUP<00> (group)"]


def test_mdns_query_and_answer_with_compression() -> None:
    query = probes.dns_query(9, "_ipp._tcp.local")
    answer_rr = b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, 120, 9) + b"\x06XRX-WC\xc0\x0c"
    response = struct.pack(">HHHHHH", 9, 0x8400, 1, 1, 0, 0) + query[12:] + answer_rr
    assert probes.dns_ptr_targets(response, 9) == ["XRX-WC._ipp._tcp.local"]
    assert probes.dns_ptr_targets(response, 10) is None  # another query's answer


def test_wsd_probe_and_match() -> None:
    assert b"<wsd:Probe/>" in probes.wsd_probe(uuid.uuid4())
    match = b"<d:ProbeMatches><d:ProbeMatch><d:Types>wprt:PrintDeviceType</d:Types>"
    assert probes.wsd_types(match) == "wprt:PrintDeviceType"


@given(st.binary(max_size=600))
def test_every_reader_takes_any_bytes(data: bytes) -> None:
    probes.pjl_id(data)
    probes.lpd_answer(data)
    probes.http_answer(data)
    probes.ipp_attributes(data)
    probes.snmp_value(data)
    probes.slp_urls(data)
    probes.ssdp_answer(data)
    probes.nbns_names(data)
    probes.dns_ptr_targets(data, int.from_bytes(data[:2].ljust(2, b"\x00"), "big"))
    probes.wsd_types(data)

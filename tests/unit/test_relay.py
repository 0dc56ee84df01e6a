"""Usage read from a stream as it is relayed, however the upstream chunks it."""

from __future__ import annotations

from plano_daemon.relay import UsageSniffer


def test_usage_sniffer_reads_usage_cut_anywhere() -> None:
    stream = (b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'
              b'data: {"choices":[],"usage":{"prompt_tokens":1234,"completion_tokens":567}}\n\ndata: [DONE]\n\n')
    for cut in range(1, len(stream)):
        sniffer = UsageSniffer()
        sniffer.feed(stream[:cut])
        sniffer.feed(stream[cut:])
        assert (sniffer.input_tokens, sniffer.output_tokens) == (1234, 567), cut

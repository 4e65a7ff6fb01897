import logging


def test_each_request_logs_one_line_with_its_duration(client, caplog):
    caplog.set_level(logging.INFO, logger="chamados.request")
    client.get("/health?token=segredo")
    lines = [r.getMessage() for r in caplog.records if r.name == "chamados.request"]
    assert len(lines) == 1
    method, path, status, duration = lines[0].split()
    assert (method, path, status) == ("GET", "/health", "200")
    assert duration.endswith("ms") and float(duration[:-2]) >= 0
    assert "segredo" not in lines[0]  # query strings may carry tokens

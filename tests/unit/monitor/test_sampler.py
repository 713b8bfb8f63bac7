import time

from services.monitor.sampler import Sampler, connection_counts, rates


def test_a_sample_reads_cpu_load_memory_swap_disks_network_and_processes():
    sampler = Sampler()
    time.sleep(0.05)
    metrics = sampler.sample()
    cores = [n for n in metrics if n.startswith("cpu.") and n != "cpu.percent"]
    assert len(cores) == sampler.cores
    for name, unit in [
        ("cpu.percent", "percent"),
        ("load.1m", "tasks"),
        ("memory.percent", "percent"),
        ("memory.available", "bytes"),
        ("swap.percent", "percent"),
        ("disk./.percent", "percent"),
        ("disk./.free", "bytes"),
        ("net.io.sent", "bytes/s"),
        ("net.io.recv", "bytes/s"),
        ("net.errors.percent", "percent"),
        ("process.count", "count"),
    ]:
        assert metrics[name][1] == unit, name
    assert 0 <= metrics["cpu.percent"][0] <= 100
    assert 0 < metrics["memory.percent"][0] < 100
    assert metrics["process.count"][0] >= 1


def test_rates_are_deltas_over_time_and_a_counter_reset_reads_as_no_traffic():
    previous = {"net.io.sent": 1000, "net.io.recv": 500, "net.packets": 100, "net.errors": 0}
    current = {"net.io.sent": 3000, "net.io.recv": 100, "net.packets": 300, "net.errors": 4}
    found = rates(previous, current, seconds=2.0)
    assert found["net.io.sent"] == (1000.0, "bytes/s")
    assert found["net.io.recv"] == (0.0, "bytes/s")
    assert found["net.errors.percent"] == (2.0, "percent")  # 4 of 200 packets
    assert rates(previous, current, seconds=0) == {}


def test_no_packets_means_no_error_rate_rather_than_a_division_by_zero():
    same = {"net.io.sent": 1, "net.io.recv": 1, "net.packets": 7, "net.errors": 0}
    assert rates(same, same, 1.0)["net.errors.percent"] == (0.0, "percent")


def test_tcp_connections_are_counted_from_the_kernels_counters(tmp_path):
    (tmp_path / "snmp").write_text(
        "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
        "Tcp: RtoAlgorithm ActiveOpens CurrEstab InSegs\nTcp: 1 1927 4 79137\n"
    )
    (tmp_path / "sockstat").write_text(
        "sockets: used 34\nTCP: inuse 13 orphan 0 tw 4 alloc 16 mem 73\nUDP: inuse 0 mem 0\n"
    )
    (tmp_path / "sockstat6").write_text("TCP6: inuse 2\nUDP6: inuse 0\n")
    counts = {k.rsplit(".", 1)[1]: v for k, (v, _) in connection_counts(tmp_path).items()}
    assert counts == {"established": 4, "time_wait": 4, "total": 19}


def test_no_kernel_counters_means_no_connection_metrics(tmp_path):
    assert connection_counts(tmp_path) == {}

package org.tscvm.snapshot;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import org.tscvm.machine.MachineConfig;
import org.tscvm.machine.SerialTarget;
import org.tscvm.vm.VmConfig;

/** tscvm's own guest kernels (built into {@code tscvm.guests}) as machine configurations for snapshot tests. */
final class Guests {
    private Guests() {
    }

    static Path kernel(String name) {
        return Path.of(System.getProperty("tscvm.guests", "target/guests")).resolve(name + ".elf");
    }

    /** A deterministic machine booting guest {@code name}, its console into {@code serial}. */
    static MachineConfig.Builder deterministic(String name, int smp, ByteArrayOutputStream serial) {
        return MachineConfig.builder().kernel(kernel(name)).smp(smp).ramBytes(32L << 20)
                .clock(VmConfig.ClockKind.DETERMINISTIC).serial(new SerialTarget.ToStream(serial));
    }
}

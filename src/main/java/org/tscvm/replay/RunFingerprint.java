package org.tscvm.replay;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tscvm.boot.BootFileException;
import org.tscvm.machine.MachineConfig;
import org.tscvm.snapshot.ConfigFingerprint;

/**
 * What a replay must share with its recording to repeat it: the snapshot's machine fields plus
 * everything else that shapes the run (the clock, the host-side TSC writes before it, the
 * kernel, its command line and initrds). Unlike a snapshot, a replay starts at power-on.
 * Reading the kernel and initrds here also means a missing one fails before a log is written.
 */
public final class RunFingerprint {
    private RunFingerprint() {
    }

    public static Map<String, String> of(MachineConfig c) {
        Map<String, String> f = new LinkedHashMap<>(ConfigFingerprint.of(c).fields());
        f.put("clock", c.clock().name().toLowerCase(java.util.Locale.ROOT));
        f.put("host-khz", Long.toString(c.vm().hostKhz()));
        f.put("host-tsc-adjust", Long.toString(c.vm().hostTscAdjust()));
        f.put("tsc-khz", Long.toString(c.vm().defaultTscKhz()));
        f.put("host-tsc-unstable", Boolean.toString(c.vm().hostTscUnstable()));
        f.put("jit-threshold", Integer.toString(c.vm().compileThreshold()));
        f.put("tsc-adjust", c.tscAdjusts().toString().replace(' ', '_'));
        f.put("tsc-warp", c.tscWarps().toString().replace(' ', '_'));
        f.put("kernel-sha256", sha256(kernelBytes(c.kernel())));
        f.put("flat", c.flatLoadAddress() + "," + c.flatEntry());
        f.put("append-sha256", sha256(c.append() == null ? new byte[0] : c.append().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        MessageDigest initrds = StateDigest.sha256();
        for (Path p : c.initrds()) {
            initrds.update(BootFileException.read(p, "initrd"));
        }
        f.put("initrd-sha256", HexFormat.of().formatHex(initrds.digest()));
        return f;
    }

    private static byte[] kernelBytes(MachineConfig.Kernel k) {
        return k instanceof MachineConfig.Kernel.InMemory m ? m.bytes()
                : BootFileException.read(((MachineConfig.Kernel.FromFile) k).path(), "kernel");
    }

    private static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(StateDigest.sha256().digest(bytes));
    }
}

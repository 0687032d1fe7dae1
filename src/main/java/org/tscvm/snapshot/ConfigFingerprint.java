package org.tscvm.snapshot;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tscvm.machine.MachineConfig;

/**
 * The part of a machine's configuration a snapshot only fits: RAM size, vCPUs and sockets, the
 * CPU model, the MSR policy, whether pc-testdev is mapped and whether the VMware backdoor is on
 * (a field only when it is, so snapshots saved before it existed still fit). What may differ is left out on
 * purpose: the kernel, command line and initrd (RAM holds them), the host clock's frequency,
 * source and adjust (restore carries the guest's time over, tsc-semantics A7), the guest TSC
 * frequency (restored per vCPU), the serial target and the timeouts.
 *
 * <p>The header carries {@link #hash()}; the CONF section carries the fields themselves, so a
 * mismatch names the field.
 */
public record ConfigFingerprint(Map<String, String> fields) {
    public ConfigFingerprint {
        fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    public static ConfigFingerprint of(MachineConfig config) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("ram-bytes", Long.toString(config.ramBytes()));
        f.put("smp", Integer.toString(config.smp()));
        f.put("sockets", Integer.toString(config.sockets()));
        f.put("cpu", config.vm().cpuid().spec().toLowerCase(Locale.ROOT));
        f.put("msr-policy", config.vm().msrPolicy().name().toLowerCase(Locale.ROOT));
        f.put("pc-testdev", Boolean.toString(config.pcTestdev()));
        if (config.vm().vmwareBackdoor()) {
            f.put("vmport", "on");
        }
        return new ConfigFingerprint(f);
    }

    /** The fields as the CONF section holds them: {@code key=value} lines. */
    public String text() {
        StringBuilder b = new StringBuilder();
        fields.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
        return b.toString();
    }

    /** The first 8 bytes of the SHA-256 of {@link #text()}, little-endian. */
    public long hash() {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(text().getBytes(StandardCharsets.UTF_8));
            long h = 0;
            for (int i = 0; i < 8; i++) {
                h |= (d[i] & 0xffL) << (8 * i);
            }
            return h;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** Parses {@link #text()}; null when a line is not {@code key=value} or a key repeats. */
    static ConfigFingerprint parse(String text) {
        Map<String, String> f = new LinkedHashMap<>();
        for (String line : text.split("\n", -1)) {
            if (line.isEmpty()) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0 || f.put(line.substring(0, eq), line.substring(eq + 1)) != null) {
                return null;
            }
        }
        return new ConfigFingerprint(f);
    }

    /** How {@code here} differs from this (the saved configuration), one phrase per field; empty if alike. */
    public List<String> differencesFrom(ConfigFingerprint here) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, String> e : fields.entrySet()) {
            String mine = here.fields.get(e.getKey());
            if (!e.getValue().equals(mine)) {
                out.add(e.getKey() + " is " + e.getValue() + " in the snapshot but " + (mine == null ? "absent" : mine)
                        + " here");
            }
        }
        for (String key : here.fields.keySet()) {
            if (!fields.containsKey(key)) {
                out.add(key + " is not in the snapshot but is " + here.fields.get(key) + " here");
            }
        }
        return out;
    }
}

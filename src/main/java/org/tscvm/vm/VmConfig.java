package org.tscvm.vm;

import org.tscvm.TscvmException;
import org.tscvm.memory.GuestMemory;
import org.tscvm.tsc.DeterministicHostClock;
import org.tscvm.tsc.HostClock;
import org.tscvm.tsc.RealTimeHostClock;

/**
 * Everything {@link Vm#create} needs. Build one with {@link #builder()}:
 *
 * <pre>{@code
 * VmConfig config = VmConfig.builder()
 *         .ramBytes(64L << 20)
 *         .clockKind(VmConfig.ClockKind.DETERMINISTIC)
 *         .hostTscAdjust(1_000_000)
 *         .msrPolicy(MsrPolicy.STRICT)
 *         .cpuid(CpuidModel.parse("tscvm,-tsc-adjust"))
 *         .build();
 * }</pre>
 *
 * @param ramBytes        guest RAM (default 128 MiB, as QEMU)
 * @param clockKind       the host clock's source when {@code hostClock} is null (default real time)
 * @param hostKhz         the host clock's nominal frequency when {@code hostClock} is null
 * @param hostClock       a host clock to use as is (tests share one to advance it), or null
 * @param hostTscAdjust   the host's IA32_TSC_ADJUST, set on the clock by {@link Vm#create} (A2)
 * @param defaultTscKhz   the VM's default vCPU TSC kHz (R15), 0 = the host frequency
 * @param msrPolicy       guest access to 0x3b without the CPUID bit (A4)
 * @param cpuid           the CPUID model new vCPUs start with
 * @param vcpusPerPackage vCPUs per package (socket) in CPUID's topology, a power of two; 0 puts
 *                        every vCPU in one package (the default)
 * @param compileThreshold runs of a block before the interpreter compiles it to JVM bytecode; 0
 *                        never compiles (default {@link #DEFAULT_COMPILE_THRESHOLD})
 * @param hostTscUnstable whether the host TSC counts as unstable (KVM's check_tsc_unstable()):
 *                        host TSC writes are then caught up by the time elapsed instead of taking
 *                        the generation's offset (R10), each vCPU load resumes the guest TSC at
 *                        its last value and catches it up (R25), and kvmclock has no master clock
 *                        (R20). Default false: tscvm's host clock is one stable counter.
 * @param vmwareBackdoor  the VMware backdoor (QEMU's {@code -machine vmport=on} with KVM's
 *                        enable_vmware_backdoor): port 0x5658 answers its commands, the backdoor
 *                        ports pass the I/O permission check and RDPMC reads the pseudo-PMCs
 *                        0x10000-0x10002 at any CPL. Default false.
 */
public record VmConfig(long ramBytes, ClockKind clockKind, long hostKhz, HostClock hostClock, long hostTscAdjust,
                       long defaultTscKhz, MsrPolicy msrPolicy, CpuidModel cpuid, int vcpusPerPackage,
                       int compileThreshold, boolean hostTscUnstable, boolean vmwareBackdoor) {
    public static final long DEFAULT_RAM_BYTES = 128L << 20;
    /** The interpreter's default (system property {@code tscvm.jit.threshold}, else 5000; measured in Cpu). */
    public static final int DEFAULT_COMPILE_THRESHOLD = org.tscvm.cpu.Cpu.DEFAULT_COMPILE_THRESHOLD;

    /** Where the host clock's ticks come from (A2). */
    public enum ClockKind {
        /** Monotonic nanoseconds of the host. */
        REAL_TIME,
        /** Retired instructions; a run repeats bit for bit. */
        DETERMINISTIC
    }

    public VmConfig {
        if (clockKind == null || msrPolicy == null || cpuid == null) {
            throw new TscvmException("VmConfig needs a clock kind, an MSR policy and a CPUID model");
        }
        if (hostClock == null) {
            HostClock.checkKhz(hostKhz);
        }
        if (defaultTscKhz < 0) {
            throw new TscvmException("default TSC frequency " + defaultTscKhz + " kHz is negative");
        }
        if (vcpusPerPackage < 0 || Integer.bitCount(vcpusPerPackage) > 1) {
            throw new TscvmException("vCPUs per package " + vcpusPerPackage + " is not 0 or a power of two");
        }
        if (compileThreshold < 0) {
            throw new TscvmException("compile threshold " + compileThreshold + " is negative (0 never compiles)");
        }
    }

    /**
     * The APIC-id bits below the package id: the bits of {@link #vcpusPerPackage}, or 8 when one
     * package holds every vCPU (APIC ids stay below 256).
     */
    public int coreIdBits() {
        return vcpusPerPackage == 0 ? 8 : Integer.numberOfTrailingZeros(vcpusPerPackage);
    }

    /** 128 MiB, a real-time 2.5 GHz host clock, no host adjust, KVM policy, the tscvm CPU model. */
    public static VmConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The host clock this configuration asks for: {@link #hostClock()} itself, or a new one. */
    HostClock createClock() {
        if (hostClock != null) {
            return hostClock;
        }
        return clockKind == ClockKind.REAL_TIME ? new RealTimeHostClock(hostKhz) : new DeterministicHostClock(hostKhz);
    }

    public static final class Builder {
        private long ramBytes = DEFAULT_RAM_BYTES;
        private ClockKind clockKind = ClockKind.REAL_TIME;
        private long hostKhz = HostClock.DEFAULT_KHZ;
        private HostClock hostClock;
        private long hostTscAdjust;
        private long defaultTscKhz;
        private MsrPolicy msrPolicy = MsrPolicy.KVM;
        private CpuidModel cpuid = CpuidModel.tscvm();
        private int vcpusPerPackage;
        private int compileThreshold = DEFAULT_COMPILE_THRESHOLD;
        private boolean hostTscUnstable;
        private boolean vmwareBackdoor;

        private Builder() {
        }

        public Builder ramBytes(long bytes) {
            if (bytes < GuestMemory.MIN_BYTES || bytes > GuestMemory.MAX_BYTES) {
                throw new TscvmException("RAM size " + bytes + " bytes is out of range");
            }
            this.ramBytes = bytes;
            return this;
        }

        public Builder clockKind(ClockKind kind) {
            this.clockKind = kind;
            return this;
        }

        public Builder hostKhz(long khz) {
            this.hostKhz = HostClock.checkKhz(khz);
            return this;
        }

        /** Uses {@code clock} itself (its kHz wins over {@link #hostKhz}). */
        public Builder hostClock(HostClock clock) {
            this.hostClock = clock;
            return this;
        }

        public Builder hostTscAdjust(long adjust) {
            this.hostTscAdjust = adjust;
            return this;
        }

        public Builder defaultTscKhz(long khz) {
            this.defaultTscKhz = khz;
            return this;
        }

        public Builder msrPolicy(MsrPolicy policy) {
            this.msrPolicy = policy;
            return this;
        }

        public Builder cpuid(CpuidModel model) {
            this.cpuid = model;
            return this;
        }

        /** vCPUs per package (socket) in CPUID's topology: a power of two, or 0 for one package. */
        public Builder vcpusPerPackage(int count) {
            this.vcpusPerPackage = count;
            return this;
        }

        /** Runs of a block before it is compiled; 0 never compiles. */
        public Builder compileThreshold(int runs) {
            this.compileThreshold = runs;
            return this;
        }

        /** A host TSC that counts as unstable, so KVM's branches for one are taken (R10, R25). */
        public Builder hostTscUnstable(boolean unstable) {
            this.hostTscUnstable = unstable;
            return this;
        }

        /** The VMware backdoor: its port, its I/O permission and its pseudo-PMCs. */
        public Builder vmwareBackdoor(boolean on) {
            this.vmwareBackdoor = on;
            return this;
        }

        public VmConfig build() {
            return new VmConfig(ramBytes, clockKind, hostKhz, hostClock, hostTscAdjust, defaultTscKhz, msrPolicy, cpuid,
                    vcpusPerPackage, compileThreshold, hostTscUnstable, vmwareBackdoor);
        }
    }
}

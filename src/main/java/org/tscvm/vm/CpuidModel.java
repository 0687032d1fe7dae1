package org.tscvm.vm;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.tscvm.TscvmException;

/**
 * What CPUID tells the guest (platform.md section 6): an immutable model built from a named
 * base ({@code tscvm}, {@code max}) plus {@code +feature}/{@code -feature} edits, as in
 * {@code -cpu tscvm,-tsc-adjust,+rdpid}, and a vendor ({@code vendor=GenuineIntel}, the default, or
 * {@code vendor=AuthenticAMD}) that the CPU's vendor-dependent rules follow (SYSCALL/SYSRET
 * outside 64-bit mode, SYSENTER/SYSEXIT in long mode).
 *
 * <p>The per-vCPU values (APIC id, the TSC kHz of the hypervisor timing leaf, A5) are passed
 * to {@link #query} so one model serves every vCPU. {@link #query} allocates nothing.
 *
 * <pre>{@code
 * CpuidModel model = CpuidModel.parse("tscvm,-tsc-adjust");
 * model.has(CpuidModel.Feature.TSC_ADJUST); // false
 * }</pre>
 */
public final class CpuidModel {
    private static final int EAX = 0, EBX = 1, ECX = 2, EDX = 3;

    /** Highest basic leaf answered: 0xB (topology), or 0x16 with {@link Feature#TSC_FREQ}. */
    public static final int MAX_BASIC_LEAF = 0xB;
    /** Leaf 0xD, the XSAVE state components: the highest basic leaf with {@link Feature#XSAVE}. */
    public static final int XSAVE_LEAF = 0xD;
    private static final int XSAVE_AREA_BYTES = 512 + 64;
    /** Leaf 1 EBX[15:8]: the CLFLUSH line size in 8-byte units (64 bytes). */
    private static final int CLFLUSH_LINE_QWORDS = 8;
    /** Leaf 0x15: TSC/crystal ratio and crystal Hz; leaf 0x16: base, max and bus MHz. */
    public static final int TSC_CRYSTAL_LEAF = 0x15, FREQUENCY_LEAF = 0x16;
    /**
     * The crystal leaf 0x15 names is the local APIC's 1 GHz bus clock: Linux takes its timer
     * period from it (lapic_timer_period = crystal kHz * 1000 / HZ).
     */
    public static final long CRYSTAL_HZ = 1_000_000_000L;
    public static final int MAX_EXTENDED_LEAF = 0x80000008;
    public static final int HYPERVISOR_BASE_LEAF = 0x40000000;
    /** VMware's timing leaf, as KVM and VMware guests read it: EAX = TSC kHz (A5). */
    public static final int HYPERVISOR_TIMING_LEAF = 0x40000010;
    /** tscvm's own 12-byte hypervisor signature (EBX, ECX, EDX of leaf 0x40000000). */
    public static final String HYPERVISOR_SIGNATURE = "TscVMTscVMTs";
    /**
     * KVM's signature, "KVMKVMKVM" and three NULs, which leaf 0x40000000 shows instead when a
     * KVM paravirtual feature is on: guests look for it before they read leaf 0x40000001.
     */
    public static final String KVM_SIGNATURE = "KVMKVMKVM\0\0\0";
    /** KVM_CPUID_FEATURES: EAX holds the paravirtual feature bits. */
    public static final int KVM_FEATURES_LEAF = 0x40000001;
    /** KVM_FEATURE_CLOCKSOURCE, the old kvmclock MSRs, which QEMU's {@code kvmclock} sets along with bit 3. */
    private static final int KVM_FEATURE_CLOCKSOURCE = 1;
    /** The default vendor. */
    public static final String VENDOR = "GenuineIntel";
    /** The vendors {@code vendor=} accepts. */
    public static final String INTEL = "GenuineIntel", AMD = "AuthenticAMD";
    /**
     * The bits AMD repeats from leaf 1 EDX in leaf 0x80000001 EDX (APM Vol. 3, CPUID Fn8000_0001
     * EDX: FPU, VME, DE, PSE, TSC, MSR, PAE, MCE, CX8, APIC, MTRR, PGE, MCA, CMOV, PAT, PSE36,
     * MMX, FXSR); Intel leaves them zero.
     */
    private static final int AMD_MIRRORED_EDX = 0x0183F3FF;
    /** Family 6, model 0x3A (Ivy Bridge), stepping 9: a CPU with invariant TSC and TSC-deadline. */
    public static final int SIGNATURE = 0x000306A9;
    public static final String BRAND = "tscvm virtual CPU";
    /** MAXPHYADDR of the model; MSRs holding physical addresses reserve the bits above it. */
    /** 40, as QEMU's TCG CPUs: RAM above 4 GiB (up to 256 GiB, ending at 257 GiB) must be addressable. */
    public static final int PHYS_ADDR_BITS = 40;
    /** 0x80000008 EAX: 48 linear, 40 physical address bits. */
    private static final int ADDRESS_SIZES = (48 << 8) | PHYS_ADDR_BITS;

    /** A named CPUID feature bit. */
    public enum Feature {
        FPU("fpu", 1, 0, EDX, 0),
        PSE("pse", 1, 0, EDX, 3),
        TSC("tsc", 1, 0, EDX, 4),
        MSR("msr", 1, 0, EDX, 5),
        PAE("pae", 1, 0, EDX, 6),
        CX8("cx8", 1, 0, EDX, 8),
        APIC("apic", 1, 0, EDX, 9),
        SEP("sep", 1, 0, EDX, 11),
        MTRR("mtrr", 1, 0, EDX, 12),
        /** CLFLUSH, with its line size (64 bytes) in leaf 1 EBX[15:8]. */
        CLFSH("clflush", 1, 0, EDX, 19),
        PGE("pge", 1, 0, EDX, 13),
        CMOV("cmov", 1, 0, EDX, 15),
        PAT("pat", 1, 0, EDX, 16),
        MMX("mmx", 1, 0, EDX, 23),
        FXSR("fxsr", 1, 0, EDX, 24),
        SSE("sse", 1, 0, EDX, 25),
        SSE2("sse2", 1, 0, EDX, 26),
        SSE3("sse3", 1, 0, ECX, 0),
        SSSE3("ssse3", 1, 0, ECX, 9),
        SSE41("sse4.1", 1, 0, ECX, 19),
        SSE42("sse4.2", 1, 0, ECX, 20),
        CX16("cx16", 1, 0, ECX, 13),
        X2APIC("x2apic", 1, 0, ECX, 21),
        MOVBE("movbe", 1, 0, ECX, 22),
        POPCNT("popcnt", 1, 0, ECX, 23),
        TSC_DEADLINE("tsc-deadline", 1, 0, ECX, 24),
        XSAVE("xsave", 1, 0, ECX, 26),
        HYPERVISOR("hypervisor", 1, 0, ECX, 31),
        /** RD/WRFSBASE and RD/WRGSBASE, enabled by CR4.FSGSBASE. */
        FSGSBASE("fsgsbase", 7, 0, EBX, 0),
        TSC_ADJUST("tsc-adjust", 7, 0, EBX, 1),
        /** Supervisor-mode execution prevention: CR4.SMEP and its page-walk check. */
        SMEP("smep", 7, 0, EBX, 7),
        /** Supervisor-mode access prevention: CR4.SMAP, EFLAGS.AC, CLAC and STAC. */
        SMAP("smap", 7, 0, EBX, 20),
        /** CLFLUSHOPT and CLWB: CLFLUSH's access check, nothing to flush in an interpreter. */
        CLFLUSHOPT("clflushopt", 7, 0, EBX, 23),
        CLWB("clwb", 7, 0, EBX, 24),
        /**
         * Protection keys for user pages: CR4.PKE, PKRU, RDPKRU/WRPKRU. OSPKE (ECX[4]) is not a
         * model bit: the CPU sets it in leaf 7 while CR4.PKE is set.
         */
        /**
         * Restricted transactional memory: XBEGIN, XEND, XABORT, XTEST (a transaction commits
         * only on a VM of one vCPU: tscvm's vCPUs share memory without conflict detection).
         */
        RTM("rtm", 7, 0, EBX, 11),
        /** IA32_ARCH_CAPABILITIES (MSR 0x10a), with IA32_TSX_CTRL where the model has RTM. */
        ARCH_CAPABILITIES("arch-capabilities", 7, 0, EDX, 29),
        /** User-mode instruction prevention: CR4.UMIP makes SGDT/SIDT/SLDT/SMSW/STR #GP at CPL > 0. */
        UMIP("umip", 7, 0, ECX, 2),
        PKU("pku", 7, 0, ECX, 3),
        RDPID("rdpid", 7, 0, ECX, 22),
        /**
         * CET shadow stacks (QEMU's names): CR4.CET, IA32_U_CET/S_CET, IA32_PL0-3_SSP, the
         * interrupt SSP table, the shadow stack of CALL/RET and events, RDSSP ... CLRSSBSY.
         */
        CET_SS("cet-ss", 7, 0, ECX, 7),
        /** CET indirect-branch tracking: ENDBR32/ENDBR64 after indirect JMP/CALL, far transfers and events. */
        CET_IBT("cet-ibt", 7, 0, EDX, 20),
        /** Protection keys for supervisor pages: CR4.PKS and IA32_PKRS (MSR 0x6e1). */
        PKS("pks", 7, 0, ECX, 31),
        /**
         * The compaction extensions of leaf 0xD sub-leaf 1: XSAVEC and XRSTOR's compacted form,
         * XGETBV with ECX = 1 (XINUSE), XSAVES/XRSTORS with IA32_XSS (no supervisor components).
         */
        XSAVEC("xsavec", XSAVE_LEAF, 1, EAX, 1),
        XGETBV1("xgetbv1", XSAVE_LEAF, 1, EAX, 2),
        XSAVES("xsaves", XSAVE_LEAF, 1, EAX, 3),
        SYSCALL("syscall", 0x80000001, 0, EDX, 11),
        NX("nx", 0x80000001, 0, EDX, 20),
        /** LZCNT (AMD's ABM bit, which Intel calls LZCNT). */
        ABM("abm", 0x80000001, 0, ECX, 5),
        RDTSCP("rdtscp", 0x80000001, 0, EDX, 27),
        LM("lm", 0x80000001, 0, EDX, 29),
        INVTSC("invtsc", 0x80000007, 0, EDX, 8),
        /**
         * kvmclock (QEMU's name): KVM_FEATURE_CLOCKSOURCE2 (bit 3) and KVM_FEATURE_CLOCKSOURCE
         * (bit 0), the new and old MSR_KVM_SYSTEM_TIME/WALL_CLOCK pairs (tsc-semantics R20).
         */
        KVMCLOCK("kvmclock", KVM_FEATURES_LEAF, 0, EAX, 3),
        /** KVM_FEATURE_CLOCKSOURCE_STABLE_BIT: the guest may trust the pvclock's TSC-stable flag. */
        KVMCLOCK_STABLE_BIT("kvmclock-stable-bit", KVM_FEATURES_LEAF, 0, EAX, 24),
        /**
         * Not a bit: the TSC frequency told as hardware does, in leaves 0x15 and 0x16 (the
         * basic leaves then reach 0x16), so a guest needs no calibration.
         */
        TSC_FREQ("tsc-freq", TSC_CRYSTAL_LEAF, 0, EAX, -1),
        /**
         * Not a bit: Intel's architectural PMU, version 2, in leaf 0xA with its MSRs and RDPMC
         * ({@link ArchPmu}; QEMU's {@code pmu=on}). An AuthenticAMD model leaves leaf 0xA zero.
         */
        PMU("pmu", 0xA, 0, EAX, -1);

        private final String featureName;
        private final int leaf;
        private final int subleaf;
        private final int register;
        private final int bit;

        Feature(String featureName, int leaf, int subleaf, int register, int bit) {
            this.featureName = featureName;
            this.leaf = leaf;
            this.subleaf = subleaf;
            this.register = register;
            this.bit = bit;
        }

        /** The name used in {@code +name}/{@code -name} edits. */
        public String featureName() {
            return featureName;
        }

        public int leaf() {
            return leaf;
        }

        public int bit() {
            return bit;
        }

        long mask() {
            return 1L << ordinal();
        }

        String location() {
            String leafText = Integer.compareUnsigned(leaf, 0x100) < 0 ? Integer.toString(leaf) : String.format("0x%x", leaf);
            if (bit < 0) {
                return leaf == 0xA ? "leaf 0xA" : "leaves 0x15 and 0x16";
            }
            return leafText + (leaf == 7 || leaf == XSAVE_LEAF ? "." + subleaf : "") + ":E" + "ABCD".charAt(register) + "X[" + bit + "]";
        }

        static Feature byName(String name) {
            for (Feature f : values()) {
                if (f.featureName.equals(name)) {
                    return f;
                }
            }
            List<String> names = new ArrayList<>();
            for (Feature f : values()) {
                names.add(f.featureName);
            }
            throw new TscvmException("unknown CPUID feature '" + name + "'; valid names: " + String.join(", ", names));
        }
    }

    private static final Feature[] FEATURES = Feature.values();

    /**
     * FPU, FXSR, SSE and SSE2 are part of x86-64 (Linux's decompressor refuses to run without
     * them); SSE, SSE2, SSE3, SSSE3, SSE4.1 and SSE4.2 run in full, FXSAVE/FXRSTOR save the XMM state,
     * and the x87 runs in full (FISTTP, SSE3's x87 form, included), as does MMX (with SSSE3's MMX
     * forms); MOVBE, POPCNT and LZCNT run; MONITOR/MWAIT (their own bit) are #UD.
     */
    private static final long TSCVM_FEATURES = maskOf(Feature.FPU, Feature.MMX, Feature.FXSR, Feature.SSE, Feature.SSE2,
            Feature.MOVBE, Feature.POPCNT, Feature.ABM,
            Feature.SSE3, Feature.SSSE3, Feature.SSE41, Feature.SSE42, Feature.TSC, Feature.MSR, Feature.APIC, Feature.PAE,
            Feature.PSE, Feature.CX8, Feature.CMOV, Feature.PGE, Feature.SEP, Feature.PAT, Feature.CX16,
            Feature.TSC_ADJUST, Feature.RDTSCP, Feature.RDPID, Feature.LM, Feature.NX, Feature.SYSCALL,
            Feature.INVTSC, Feature.HYPERVISOR, Feature.X2APIC, Feature.TSC_DEADLINE);
    /** KVM's paravirtual features, which QEMU's {@code max} under TCG does not offer either. */
    private static final long KVM_PARAVIRT = maskOf(Feature.KVMCLOCK, Feature.KVMCLOCK_STABLE_BIT);
    /**
     * Every named feature but {@link #KVM_PARAVIRT}: XSAVE with the x87 and SSE components and
     * its compaction extensions, CLFLUSH's bit, CLFLUSHOPT, CLWB, UMIP and the PMU are in
     * {@code max} only, so the default model stays as it was.
     */
    private static final long MAX_FEATURES = ((1L << FEATURES.length) - 1) & ~KVM_PARAVIRT;

    private static final String[] BASES = {"tscvm", "max"};

    private static final int[] INTEL_WORDS = words(INTEL, 3), AMD_WORDS = words(AMD, 3);
    private static final int[] HYPERVISOR_WORDS = words(HYPERVISOR_SIGNATURE, 3);
    private static final int[] KVM_WORDS = words(KVM_SIGNATURE, 3);
    private static final int[] BRAND_WORDS = words(BRAND, 12);

    private final String base;
    private final long features;
    private final String spec;
    private final boolean amd;

    private CpuidModel(String base, long features, String spec, boolean amd) {
        this.base = base;
        this.features = features;
        this.spec = spec;
        this.amd = amd;
    }

    /** The default model, {@code tscvm}. */
    public static CpuidModel tscvm() {
        return named("tscvm");
    }

    /** A named base model: {@code tscvm} (the default) or {@code max} (every named feature but KVM's paravirtual ones). */
    public static CpuidModel named(String name) {
        switch (name) {
            case "tscvm":
                return new CpuidModel(name, TSCVM_FEATURES, name, false);
            case "max":
                return new CpuidModel(name, MAX_FEATURES, name, false);
            default:
                throw new TscvmException("unknown CPU model '" + name + "'; valid models: " + String.join(", ", BASES));
        }
    }

    /**
     * Parses {@code base[,+feature|-feature|vendor=NAME]...}, e.g. {@code tscvm,-tsc-adjust,+rdpid}
     * or {@code tscvm,vendor=AuthenticAMD}.
     */
    public static CpuidModel parse(String text) {
        String[] parts = text.split(",", -1);
        CpuidModel model = named(parts[0].trim());
        for (int i = 1; i < parts.length; i++) {
            model = model.with(parts[i].trim());
        }
        return model;
    }

    /**
     * This model with one edit applied: {@code +name} switches a feature on, {@code -name} off,
     * {@code vendor=NAME} sets the vendor.
     */
    public CpuidModel with(String edit) {
        if (edit.startsWith("vendor=")) {
            return withVendor(edit.substring("vendor=".length()));
        }
        if (edit.length() < 2 || (edit.charAt(0) != '+' && edit.charAt(0) != '-')) {
            throw new TscvmException("CPUID edit '" + edit + "' must be +feature or -feature");
        }
        return with(Feature.byName(edit.substring(1)), edit.charAt(0) == '+');
    }

    /** This model with {@code feature} switched on or off. */
    public CpuidModel with(Feature feature, boolean on) {
        long newFeatures = on ? features | feature.mask() : features & ~feature.mask();
        return new CpuidModel(base, newFeatures, spec + "," + (on ? "+" : "-") + feature.featureName, amd);
    }

    /** This model with vendor {@code GenuineIntel} or {@code AuthenticAMD}. */
    public CpuidModel withVendor(String vendor) {
        if (!vendor.equals(INTEL) && !vendor.equals(AMD)) {
            throw new TscvmException("unknown CPU vendor '" + vendor + "'; valid vendors: " + INTEL + ", " + AMD);
        }
        return new CpuidModel(base, features, spec + ",vendor=" + vendor, vendor.equals(AMD));
    }

    /** The 12-character vendor string of leaf 0. */
    public String vendor() {
        return amd ? AMD : INTEL;
    }

    /** True when the vendor is AuthenticAMD. */
    public boolean isAmd() {
        return amd;
    }

    public boolean has(Feature feature) {
        return (features & feature.mask()) != 0;
    }

    /** Whether a KVM paravirtual feature is on, so leaf 0x40000000 carries KVM's signature. */
    public boolean hasKvmParavirt() {
        return (features & KVM_PARAVIRT) != 0;
    }

    public String baseName() {
        return base;
    }

    /** The text this model was built from, e.g. {@code tscvm,-tsc-adjust}. */
    public String spec() {
        return spec;
    }

    /**
     * CPUID for one vCPU: fills {@code out[0..3]} with EAX, EBX, ECX, EDX of {@code leaf} and
     * {@code subleaf}. Leaves the model does not define read as zeros.
     *
     * @param apicId         the vCPU's initial APIC id (leaf 1 EBX[31:24], leaf 0xB EDX)
     * @param packageVcpus   vCPUs in this vCPU's package (leaf 0xB core level EBX)
     * @param coreIdBits     APIC-id bits below the package id (leaf 0xB core level EAX): a guest
     *                       takes {@code apicId >> coreIdBits} as the package (socket) number
     * @param tscKhz         the rate the vCPU's TSC really runs at (leaf 0x40000010, A5)
     */
    public void query(int leaf, int subleaf, int apicId, int packageVcpus, int coreIdBits, long tscKhz, int[] out) {
        out[EAX] = 0;
        out[EBX] = 0;
        out[ECX] = 0;
        out[EDX] = 0;
        switch (leaf) {
            case 0:
                out[EAX] = has(Feature.TSC_FREQ) ? FREQUENCY_LEAF : has(Feature.XSAVE) ? XSAVE_LEAF : MAX_BASIC_LEAF;
                vendorWords(out);
                break;
            case 1:
                out[EAX] = SIGNATURE;
                out[EBX] = apicId << 24 | (has(Feature.CLFSH) ? CLFLUSH_LINE_QWORDS << 8 : 0);
                addFeatures(leaf, 0, out);
                break;
            case 7:
                if (subleaf == 0) {
                    addFeatures(leaf, 0, out);
                }
                break;
            case XSAVE_LEAF:
                if (has(Feature.XSAVE)) {
                    xsaveLeaf(subleaf, out);
                }
                break;
            case 0xA:
                if (has(Feature.PMU) && !amd) {
                    ArchPmu.cpuidLeaf(out);
                }
                break; // else version 0: no performance counters
            case 0xB:
                topology(subleaf, apicId, packageVcpus, coreIdBits, out);
                break;
            case TSC_CRYSTAL_LEAF:
                if (has(Feature.TSC_FREQ)) {
                    crystalRatio(tscKhz, out);
                }
                break;
            case FREQUENCY_LEAF:
                if (has(Feature.TSC_FREQ)) {
                    out[EAX] = (int) (tscKhz / 1000); // base MHz
                    out[EBX] = out[EAX];              // max MHz
                    out[ECX] = (int) (CRYSTAL_HZ / 1_000_000); // bus (reference) MHz
                }
                break;
            case HYPERVISOR_BASE_LEAF: {
                out[EAX] = HYPERVISOR_TIMING_LEAF;
                int[] signature = hasKvmParavirt() ? KVM_WORDS : HYPERVISOR_WORDS;
                out[EBX] = signature[0];
                out[ECX] = signature[1];
                out[EDX] = signature[2];
                break;
            }
            case KVM_FEATURES_LEAF:
                if (hasKvmParavirt()) {
                    addFeatures(leaf, 0, out);
                    if (has(Feature.KVMCLOCK)) {
                        out[EAX] |= KVM_FEATURE_CLOCKSOURCE;
                    }
                }
                break; // EDX: no KVM hints
            case HYPERVISOR_TIMING_LEAF:
                out[EAX] = (int) tscKhz;
                break; // EBX (APIC bus kHz) stays 0 until the local APIC defines its timer rate
            case 0x80000000:
                out[EAX] = MAX_EXTENDED_LEAF;
                if (amd) {
                    vendorWords(out); // AMD repeats the vendor here; Intel reserves these registers
                }
                break;
            case 0x80000001:
                if (amd) {
                    addFeatures(1, 0, out); // then keep only the EDX bits AMD repeats
                    out[EAX] = SIGNATURE;
                    out[ECX] = 0;
                    out[EDX] &= AMD_MIRRORED_EDX;
                }
                addFeatures(leaf, 0, out);
                break;
            case 0x80000007:
                addFeatures(leaf, 0, out);
                break;
            case 0x80000002:
            case 0x80000003:
            case 0x80000004:
                System.arraycopy(BRAND_WORDS, (leaf - 0x80000002) * 4, out, 0, 4);
                break;
            case 0x80000008:
                out[EAX] = ADDRESS_SIZES;
                break;
            default:
                break;
        }
    }

    private void vendorWords(int[] out) {
        int[] words = amd ? AMD_WORDS : INTEL_WORDS;
        out[EBX] = words[0];
        out[EDX] = words[1];
        out[ECX] = words[2];
    }

    /**
     * Leaf 0x15: TSC Hz = crystal Hz * EBX / EAX. The ratio is reduced and given only when
     * Linux's 32-bit product crystal kHz * EBX cannot overflow, so the frequency it derives is
     * exact; otherwise the leaf stays zero and the guest calibrates.
     */
    private static void crystalRatio(long tscKhz, int[] out) {
        long crystalKhz = CRYSTAL_HZ / 1000;
        long divisor = gcd(tscKhz, crystalKhz);
        long numerator = tscKhz / divisor, denominator = crystalKhz / divisor;
        if (tscKhz > 0 && crystalKhz * numerator <= 0xffff_ffffL) {
            out[EAX] = (int) denominator;
            out[EBX] = (int) numerator;
            out[ECX] = (int) CRYSTAL_HZ;
        }
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    /**
     * Leaf 0xD: sub-leaf 0 the XCR0 bits (x87, SSE) and the area's size, FXSAVE's 512 bytes
     * and the 64-byte header; sub-leaf 1 XSAVEOPT and the compaction extensions, with EBX the
     * compacted size for XCR0 | IA32_XSS (the same 576 bytes: x87 and SSE live in the legacy
     * region) and ECX:EDX the IA32_XSS bits, none (SDM 13.2).
     */
    private void xsaveLeaf(int subleaf, int[] out) {
        if (subleaf == 0) {
            out[EAX] = 3;
            out[EBX] = XSAVE_AREA_BYTES;
            out[ECX] = XSAVE_AREA_BYTES;
        } else if (subleaf == 1) {
            out[EAX] = 1;
            addFeatures(XSAVE_LEAF, 1, out);
            if (has(Feature.XSAVEC) || has(Feature.XSAVES)) {
                out[EBX] = XSAVE_AREA_BYTES;
            }
        }
    }

    private void addFeatures(int leaf, int subleaf, int[] out) {
        long set = features;
        for (Feature f : FEATURES) {
            if ((set & f.mask()) != 0 && f.leaf == leaf && f.subleaf == subleaf && f.bit >= 0) {
                out[f.register] |= 1 << f.bit;
            }
        }
    }

    /** Leaf 0xB: one thread per core; the core level spans {@code coreIdBits} bits of the APIC id. */
    private static void topology(int subleaf, int apicId, int packageVcpus, int coreIdBits, int[] out) {
        out[ECX] = subleaf & 0xff;
        out[EDX] = apicId;
        if (subleaf == 0) {
            out[EBX] = 1;
            out[ECX] |= 1 << 8; // SMT level
        } else if (subleaf == 1) {
            out[EAX] = coreIdBits;
            out[EBX] = packageVcpus;
            out[ECX] |= 2 << 8; // core level
        }
    }

    /** {@code count} little-endian 4-byte words of {@code text}, NUL-padded. */
    private static int[] words(String text, int count) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        int[] result = new int[count];
        for (int i = 0; i < bytes.length && i < count * 4; i++) {
            result[i / 4] |= (bytes[i] & 0xff) << (8 * (i % 4));
        }
        return result;
    }

    /** A readable listing: vendor, signature, hypervisor leaves and every feature, on or off. */
    public String describe() {
        StringBuilder text = new StringBuilder();
        text.append("CPU model ").append(spec).append('\n');
        text.append(String.format("  vendor %s, signature 0x%08x, brand \"%s\"%n", vendor(), SIGNATURE, BRAND));
        text.append(String.format("  max leaves: basic 0x%x, extended 0x%x, hypervisor 0x%x (\"%s\")%n",
                has(Feature.TSC_FREQ) ? FREQUENCY_LEAF : MAX_BASIC_LEAF, MAX_EXTENDED_LEAF, HYPERVISOR_TIMING_LEAF,
                hasKvmParavirt() ? "KVMKVMKVM" : HYPERVISOR_SIGNATURE));
        text.append("  leaf 0x40000010 EAX = the vCPU's TSC kHz; leaf 0xA: "
                + (has(Feature.PMU) && !amd ? "architectural PMU version " + ArchPmu.VERSION : "no performance counters") + "\n");
        for (Feature f : FEATURES) {
            text.append(String.format("  %s %-13s %s%n", has(f) ? "+" : "-", f.featureName, f.location()));
        }
        return text.toString();
    }

    private static long maskOf(Feature... list) {
        long mask = 0;
        for (Feature f : list) {
            mask |= f.mask();
        }
        return mask;
    }

    /** Models are equal when they advertise the same features and vendor, however they were spelled. */
    @Override
    public boolean equals(Object other) {
        return other instanceof CpuidModel && ((CpuidModel) other).features == features
                && ((CpuidModel) other).amd == amd;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(features) ^ (amd ? 1 : 0);
    }

    @Override
    public String toString() {
        return spec;
    }
}

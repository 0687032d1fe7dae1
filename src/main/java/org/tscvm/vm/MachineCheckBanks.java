package org.tscvm.vm;

/**
 * The machine-check MSRs a KVM vCPU offers (KVM arch/x86/kvm/x86.c get_msr_mce/set_msr_mce,
 * with QEMU's default of 10 banks and MCG_CTL_P|MCG_SER_P): IA32_MCG_CAP, MCG_STATUS, MCG_CTL
 * and per bank MCi_CTL, MCi_STATUS, MCi_ADDR, MCi_MISC at 0x400 + 4*i (SDM Vol. 3B 16.3).
 * No error is ever raised here; the banks are storage with KVM's write rules.
 */
final class MachineCheckBanks {
    static final int MCG_CAP = 0x179;
    static final int MCG_STATUS = 0x17a;
    static final int MCG_CTL = 0x17b;
    static final int MC0_CTL = 0x400;
    /** 0x400..0x47f holds 32 banks at most; 0x480 starts the VMX MSRs. */
    static final int MAX_BANKS = 32;

    static final long MCG_CTL_P = 1L << 8;
    static final long MCG_SER_P = 1L << 24;
    static final int DEFAULT_BANKS = 10;
    static final long DEFAULT_CAP = MCG_CTL_P | MCG_SER_P | DEFAULT_BANKS;
    /** Linux clears bit 10 of MC4_CTL (an AMD K8 GART workaround); KVM tolerates it in any bank. */
    private static final long CTL_GART_BIT = 1L << 10;

    private long cap = DEFAULT_CAP;
    private long status;
    private long ctl = -1L;
    private final long[] banks = new long[4 * MAX_BANKS];

    MachineCheckBanks() {
        for (int i = 0; i < MAX_BANKS; i++) {
            banks[4 * i] = -1L; // MCi_CTL resets to all ones in KVM
        }
    }

    static boolean isMceMsr(int index) {
        return index == MCG_CAP || index == MCG_STATUS || index == MCG_CTL
                || (index >= MC0_CTL && index < MC0_CTL + 4 * MAX_BANKS);
    }

    private int bankCount() {
        return (int) (cap & 0xff);
    }

    /** Whether a read of {@code index} succeeds (a missing bank or MCG_CTL without MCG_CTL_P faults). */
    boolean readable(int index) {
        if (index == MCG_CAP || index == MCG_STATUS) {
            return true;
        }
        if (index == MCG_CTL) {
            return (cap & MCG_CTL_P) != 0;
        }
        int offset = index - MC0_CTL;
        return offset >= 0 && offset < 4 * bankCount();
    }

    /** The value of a {@link #readable} MSR. */
    long read(int index) {
        switch (index) {
            case MCG_CAP: return cap;
            case MCG_STATUS: return status;
            case MCG_CTL: return ctl;
            default: return banks[index - MC0_CTL];
        }
    }

    /** @return false when the write must fault (#GP for the guest, refusal for the host). */
    boolean write(int index, long v, boolean host) {
        switch (index) {
            case MCG_CAP:
                // Read-only for the guest; the host may pick a bank count and a subset of our bits.
                if (!host || (v & ~(MCG_CTL_P | MCG_SER_P | 0xff)) != 0 || (v & 0xff) == 0 || (v & 0xff) > MAX_BANKS) {
                    return false;
                }
                cap = v;
                return true;
            case MCG_STATUS:
                status = v;
                return true;
            case MCG_CTL:
                if ((cap & MCG_CTL_P) == 0 || (v != 0 && v != -1L)) {
                    return false;
                }
                ctl = v;
                return true;
            default:
                int offset = index - MC0_CTL;
                if (offset < 0 || offset >= 4 * bankCount()) {
                    return false;
                }
                switch (offset & 3) {
                    case 0: // MCi_CTL: 0 or all ones only
                        if (v != 0 && (v | CTL_GART_BIT) != -1L) {
                            return false;
                        }
                        break;
                    case 1: // MCi_STATUS: the guest may only clear it; the host injects errors
                        if (!host && v != 0) {
                            return false;
                        }
                        break;
                    default: // MCi_ADDR, MCi_MISC: any value
                        break;
                }
                banks[offset] = v;
                return true;
        }
    }
}

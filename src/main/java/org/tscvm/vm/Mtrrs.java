package org.tscvm.vm;

/**
 * The memory type range registers a KVM vCPU keeps (KVM arch/x86/kvm/mtrr.c): MTRRcap with 8
 * variable ranges, fixed ranges and write-combining; MTRRdefType; the 11 fixed-range MSRs; 8
 * variable base/mask pairs (SDM Vol. 3A 12.11). tscvm has no caches, so they are storage with
 * KVM's validity rules: an invalid memory type or a reserved bit is #GP for the guest.
 */
public final class Mtrrs {
    public static final int MTRR_CAP = 0xfe;
    public static final int PHYS_BASE_0 = 0x200;
    public static final int FIX_64K_00000 = 0x250;
    public static final int FIX_16K_80000 = 0x258;
    public static final int FIX_16K_A0000 = 0x259;
    public static final int FIX_4K_C0000 = 0x268;
    public static final int FIX_4K_F8000 = 0x26f;
    public static final int DEF_TYPE = 0x2ff;

    public static final int VARIABLE_RANGES = 8;
    static final long CAP_FIXED = 1L << 8;
    static final long CAP_WRITE_COMBINING = 1L << 10;
    /** KVM's MTRRcap: 8 variable ranges, fixed ranges, write-combining. */
    static final long CAP = CAP_WRITE_COMBINING | CAP_FIXED | VARIABLE_RANGES;

    // MTRRdefType: type in bits 7:0, FE (fixed enable) bit 10, E (enable) bit 11.
    public static final long DEF_TYPE_FIXED_ENABLE = 1L << 10;
    public static final long DEF_TYPE_ENABLE = 1L << 11;
    private static final long DEF_TYPE_WRITABLE = 0xcffL;
    /** PHYSMASK bit 11: the range is valid. */
    public static final long MASK_VALID = 1L << 11;

    // Memory types.
    public static final int UNCACHEABLE = 0;
    public static final int WRITE_COMBINING = 1;
    public static final int WRITE_THROUGH = 4;
    public static final int WRITE_PROTECTED = 5;
    public static final int WRITE_BACK = 6;

    /** Address bits above the model's physical address bits are reserved (CPUID 0x80000008). */
    private final long reservedAddressBits;
    private long defType;
    private final long[] fixed = new long[11];
    private final long[] variable = new long[2 * VARIABLE_RANGES];

    Mtrrs(int physAddrBits) {
        this.reservedAddressBits = -1L << physAddrBits;
    }

    static boolean isMtrrMsr(int index) {
        return index == MTRR_CAP || index == DEF_TYPE || fixedSlot(index) >= 0
                || (index >= PHYS_BASE_0 && index < PHYS_BASE_0 + 2 * VARIABLE_RANGES);
    }

    /** 0 for 64K_00000, 1-2 for the 16K pair, 3-10 for the 4K ones; -1 if not fixed. */
    private static int fixedSlot(int index) {
        if (index == FIX_64K_00000) {
            return 0;
        }
        if (index == FIX_16K_80000 || index == FIX_16K_A0000) {
            return 1 + index - FIX_16K_80000;
        }
        if (index >= FIX_4K_C0000 && index <= FIX_4K_F8000) {
            return 3 + index - FIX_4K_C0000;
        }
        return -1;
    }

    long read(int index) {
        if (index == MTRR_CAP) {
            return CAP;
        }
        if (index == DEF_TYPE) {
            return defType;
        }
        int slot = fixedSlot(index);
        return slot >= 0 ? fixed[slot] : variable[index - PHYS_BASE_0];
    }

    /** @return false when the write must fault: MTRRcap, an invalid type or a reserved bit. */
    boolean write(int index, long value) {
        if (index == MTRR_CAP || !valid(index, value)) {
            return false;
        }
        if (index == DEF_TYPE) {
            defType = value;
            return true;
        }
        int slot = fixedSlot(index);
        if (slot >= 0) {
            fixed[slot] = value;
        } else {
            variable[index - PHYS_BASE_0] = value;
        }
        return true;
    }

    private boolean valid(int index, long value) {
        if (index == DEF_TYPE) {
            return (value & ~DEF_TYPE_WRITABLE) == 0 && validType((int) value & 0xff);
        }
        if (fixedSlot(index) >= 0) {
            for (int i = 0; i < 8; i++) {
                if (!validType((int) (value >>> (8 * i)) & 0xff)) {
                    return false;
                }
            }
            return true;
        }
        boolean mask = ((index - PHYS_BASE_0) & 1) != 0;
        if (mask) {
            return (value & (reservedAddressBits | 0x7ffL)) == 0;
        }
        return (value & (reservedAddressBits | 0xf00L)) == 0 && validType((int) value & 0xff);
    }

    private static boolean validType(int type) {
        return type == UNCACHEABLE || type == WRITE_COMBINING || type == WRITE_THROUGH
                || type == WRITE_PROTECTED || type == WRITE_BACK;
    }
}

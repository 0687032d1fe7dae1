package org.tscvm.cpu;

/** MSR indexes, named once (STYLE: no bare hex in handlers). */
public final class Msr {
    private Msr() {
    }

    public static final int IA32_TSC = 0x10;
    public static final int IA32_APIC_BASE = 0x1b;
    public static final int IA32_TSC_ADJUST = 0x3b;
    /** Read-only bits saying which speculation problems the CPU does not have, and which MSRs it has. */
    public static final int IA32_ARCH_CAPABILITIES = 0x10a;
    /** TSX control: bit 0 makes every XBEGIN abort, bit 1 hides RTM and HLE from CPUID. */
    public static final int IA32_TSX_CTRL = 0x122;
    public static final int IA32_SYSENTER_CS = 0x174;
    public static final int IA32_SYSENTER_ESP = 0x175;
    public static final int IA32_SYSENTER_EIP = 0x176;
    public static final int IA32_MISC_ENABLE = 0x1a0;
    public static final int IA32_PAT = 0x277;
    /** CET: the user and supervisor controls, the four privilege levels' SSPs, the interrupt SSP table. */
    public static final int IA32_U_CET = 0x6a0, IA32_S_CET = 0x6a2, IA32_PL0_SSP = 0x6a4, IA32_PL1_SSP = 0x6a5,
            IA32_PL2_SSP = 0x6a6, IA32_PL3_SSP = 0x6a7, IA32_INTERRUPT_SSP_TABLE_ADDR = 0x6a8;
    public static final int IA32_TSC_DEADLINE = 0x6e0;
    /**
     * Not an MSR: tscvm's index for the CET shadow-stack pointer in a vCPU's saved MSR list
     * (KVM carries SSP as the one-reg KVM_REG_GUEST_SSP). Host access only; the guest's
     * RDMSR/WRMSR of it is #GP, as of any MSR that does not exist.
     */
    public static final int TSCVM_GUEST_SSP = 0x74730001;
    /** Supervisor protection-key rights (PKS). */
    public static final int IA32_PKRS = 0x6e1;
    /** The supervisor XSAVE components XSAVES/XRSTORS manage: tscvm has none, so only 0 is valid. */
    public static final int IA32_XSS = 0xda0;
    /** x2APIC registers occupy 0x800..0x8ff. */
    public static final int X2APIC_FIRST = 0x800;
    public static final int X2APIC_LAST = 0x8ff;
    public static final int IA32_EFER = 0xc0000080;
    public static final int IA32_STAR = 0xc0000081;
    public static final int IA32_LSTAR = 0xc0000082;
    public static final int IA32_CSTAR = 0xc0000083;
    public static final int IA32_FMASK = 0xc0000084;
    public static final int IA32_FS_BASE = 0xc0000100;
    public static final int IA32_GS_BASE = 0xc0000101;
    public static final int IA32_KERNEL_GS_BASE = 0xc0000102;
    public static final int IA32_TSC_AUX = 0xc0000103;
}

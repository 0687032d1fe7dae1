package org.tscvm.cpu;

import static org.tscvm.cpu.CpuState.*;
import static org.tscvm.cpu.CpuExec.*;

import java.util.Arrays;

/**
 * The writes of one logical processor's system registers (SDM Vol. 3A 2.1.6, 2.5): CR0, CR3
 * and CR4 with MOV CR's #GP rules, the PDPTE loads and TLB flushes they cause and the IA-32e
 * mode switch through CR0.PG and EFER; DR7's effect on the breakpoint paths; and the MSRs that
 * are CPU state (EFER, the SYSCALL/SYSENTER MSRs, segment bases, PAT, PKRS, CET, XSS), read and
 * written with RDMSR/WRMSR's rules. The guest's CPUID, asked through the {@link CpuBus}, decides
 * which CR4 bits and MSRs exist.
 *
 * <p>It works on the {@link CpuExec} it is built with: the registers stay that CPU's fields,
 * as the page walk, the run loop and the instructions read them directly; a mode change goes
 * through its {@link CpuExec#updateMode}. It keeps no state of its own.
 */
final class SystemRegisters {
    /**
     * CR4 bits that exist only when CPUID leaf 7 (leaf 1 for OSXSAVE, VME and PVI) reports their feature; setting
     * one otherwise is #GP (SDM MOV CR4: reserved bits; KVM __cr4_reserved_bits does the same). No CPUID model
     * reports VME, which is not implemented.
     */
    static final long CR4_BY_CPUID = CR4_VME | CR4_PVI | CR4_FSGSBASE | CR4_SMEP | CR4_SMAP | CR4_UMIP | CR4_PKE
            | CR4_PKS | CR4_OSXSAVE | CR4_CET;

    /** CPUID.(7,0):ECX[7] CET_SS and EDX[20] CET_IBT. */
    static final int CPUID7_ECX_CET_SS = 1 << 7, CPUID7_EDX_CET_IBT = 1 << 20;

    /**
     * The MSRs that are CPU state, ascending: the CPU serves the guest's RDMSR/WRMSR of them
     * itself, and the vCPU's MSR table names the CPU as their owner for the host's accesses.
     */
    static final int[] OWNED_MSRS = sorted(Msr.IA32_SYSENTER_CS, Msr.IA32_SYSENTER_ESP, Msr.IA32_SYSENTER_EIP,
            Msr.IA32_PAT, Msr.IA32_XSS, Msr.IA32_PKRS, Msr.IA32_EFER, Msr.IA32_STAR, Msr.IA32_LSTAR, Msr.IA32_CSTAR,
            Msr.IA32_FMASK, Msr.IA32_FS_BASE, Msr.IA32_GS_BASE, Msr.IA32_KERNEL_GS_BASE, Msr.IA32_U_CET, Msr.IA32_S_CET,
            Msr.IA32_PL0_SSP, Msr.IA32_PL1_SSP, Msr.IA32_PL2_SSP, Msr.IA32_PL3_SSP, Msr.IA32_INTERRUPT_SSP_TABLE_ADDR);

    /** {@link #eferRefusal}'s reason, made once (not by String.format: its Formatter costs start-up). */
    private static final String EFER_RESERVED = "sets reserved bits (supported: 0x" + Long.toHexString(EFER_SUPPORTED) + ")";

    private final CpuExec c;
    /** Scratch for CPUID's four registers: no allocation per MOV CR4 or WRMSR. */
    private final int[] cpuidOut = new int[4];

    SystemRegisters(CpuExec cpu) {
        this.c = cpu;
    }

    // ---- values refused in any mode ----
    // The guest's MOV CR/WRMSR raises #GP for them; the host's state load (Cpu.checkState)
    // reports the reason after the register's name and value. Constant strings: a refused
    // guest write allocates nothing.

    /** Why CR0 cannot hold {@code v}, or null. */
    static String cr0Refusal(long v) {
        if ((v >>> 32) != 0) {
            return "sets reserved bits 63:32";
        }
        if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) {
            return "sets PG without PE";
        }
        if ((v & CR0_NW) != 0 && (v & CR0_CD) == 0) {
            return "sets NW without CD";
        }
        return null;
    }

    /** Why CR4 cannot hold {@code v} (a bit tscvm lacks or the guest's CPUID does not report), or null. */
    String cr4Refusal(long v) {
        if ((v & ~CR4_SUPPORTED) != 0
                || ((v & CR4_BY_CPUID) != 0 && (v & CR4_BY_CPUID & ~cr4BitsCpuidReports()) != 0)) {
            return "sets reserved bits (or bits the CPUID model does not report)";
        }
        return null;
    }

    /** Why CR0 and CR4 cannot hold {@code cr0} and {@code cr4} together (SDM MOV CR), or null. */
    static String cetRefusal(long cr0, long cr4) {
        return (cr4 & CR4_CET) != 0 && (cr0 & CR0_WP) == 0 ? "CR4.CET needs CR0.WP" : null;
    }

    /** Why EFER cannot hold {@code v}, or null. */
    static String eferRefusal(long v) {
        return (v & ~EFER_SUPPORTED) != 0 ? EFER_RESERVED : null;
    }

    // ---- control registers ----

    void writeCr0(long v) {
        if (cr0Refusal(v) != null) {
            throw c.gp(0);
        }
        v |= CR0_ET;
        long old = c.cr0;
        if (cetRefusal(v, c.cr4) != null) {
            throw c.gp(0); // WP cannot be cleared while CR4.CET is set
        }
        if ((v & CR0_PG) != 0 && (old & CR0_PG) == 0 && (c.efer & EFER_LME) != 0) {
            if ((c.cr4 & CR4_PAE) == 0 || (c.segAttr[CS] & A_L) != 0) {
                throw c.gp(0);
            }
            c.efer |= EFER_LMA;
        }
        if ((v & CR0_PG) == 0 && (old & CR0_PG) != 0 && c.longMode()) {
            if (c.mode64) {
                throw c.gp(0);
            }
            c.efer &= ~EFER_LMA;
        }
        if ((v & CR0_PE) != 0 && (old & CR0_PE) == 0) {
            c.csFromRealMode = true;
        }
        if ((v & CR0_PG) != 0 && (c.cr4 & CR4_PAE) != 0 && (c.efer & EFER_LMA) == 0
                && ((old ^ v) & (CR0_PG | CR0_CD | CR0_NW)) != 0) {
            c.mmu.loadPdptes(c.cr3); // PAE paging turned on (or its caching changed): SDM 4.4.1
        }
        c.cr0 = v;
        if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) != 0) {
            c.mmu.flushTlb(false);
        }
        c.updateMode();
    }

    /** PAE paging: CR0.PG and CR4.PAE set outside long mode. */
    private boolean paePaging(long cr0, long cr4) {
        return (cr0 & CR0_PG) != 0 && (cr4 & CR4_PAE) != 0 && (c.efer & EFER_LMA) == 0;
    }

    void writeCr3(long v) {
        if (c.longMode() && (v >>> 52) != 0) {
            throw c.gp(0);
        }
        if (paePaging(c.cr0, c.cr4)) {
            c.mmu.loadPdptes(v); // #GP leaves CR3 as it was
        }
        c.cr3 = c.longMode() ? v : v & 0xffffffffL;
        c.mmu.flushTlb((c.cr4 & CR4_PGE) != 0);
    }

    void writeCr4(long v) {
        if ((c.longMode() && (v & CR4_PAE) == 0) || cr4Refusal(v) != null || cetRefusal(c.cr0, v) != null) {
            throw c.gp(0);
        }
        long old = c.cr4;
        if (paePaging(c.cr0, v) && ((old ^ v) & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)) != 0) {
            c.mmu.loadPdptes(c.cr3); // SDM 4.4.1
        }
        c.cr4 = v;
        Cet.update(c);
        if (((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PKS)) != 0) {
            c.mmu.flushTlb(false);
        }
    }

    /** The bits of {@link #CR4_BY_CPUID} whose feature the guest's CPUID reports. */
    long cr4BitsCpuidReports() {
        int[] out = cpuidOut;
        c.bus.cpuid(1, 0, out);
        long leaf1 = ((out[2] & (1 << 26)) != 0 ? CR4_OSXSAVE : 0) // CPUID.1:ECX.XSAVE
                | ((out[3] & 2) != 0 ? CR4_VME | CR4_PVI : 0); // CPUID.1:EDX.VME covers both
        c.bus.cpuid(0, 0, out);
        if (out[0] < 7) {
            return leaf1;
        }
        c.bus.cpuid(7, 0, out);
        return leaf1 | ((out[1] & 1) != 0 ? CR4_FSGSBASE : 0) | ((out[1] & (1 << 7)) != 0 ? CR4_SMEP : 0)
                | ((out[1] & (1 << 20)) != 0 ? CR4_SMAP : 0) | ((out[2] & (1 << 2)) != 0 ? CR4_UMIP : 0)
                | ((out[2] & (1 << 3)) != 0 ? CR4_PKE : 0) | ((out[2] & (1 << 31)) != 0 ? CR4_PKS : 0)
                | ((out[2] & CPUID7_ECX_CET_SS) != 0 || (out[3] & CPUID7_EDX_CET_IBT) != 0 ? CR4_CET : 0);
    }

    /** Whether the CPUID model reports CET shadow stacks (true) or indirect-branch tracking (false). */
    boolean cpuidReportsCet(boolean shadowStacks) {
        int[] out = cpuidOut;
        c.bus.cpuid(0, 0, out);
        if (out[0] < 7) {
            return false;
        }
        c.bus.cpuid(7, 0, out);
        return shadowStacks ? (out[2] & CPUID7_ECX_CET_SS) != 0 : (out[3] & CPUID7_EDX_CET_IBT) != 0;
    }

    /** CPUID.(0xD,1):EAX[3], XSAVES/XRSTORS and IA32_XSS. */
    boolean cpuidReportsXsaves() {
        int[] out = cpuidOut;
        c.bus.cpuid(0xd, 1, out);
        return (out[0] & (1 << 3)) != 0;
    }

    // ---- debug registers ----

    /**
     * Recomputes {@link CpuState#guestDebugArmed} and {@link CpuState#guestWatch} after DR0-DR3 or
     * DR7 changed; while data breakpoints are enabled the TLB is flushed so their pages take the
     * slow path.
     */
    void updateGuestDebug() {
        long dr7 = c.dr[7];
        c.guestDebugArmed = (dr7 & 0xff) != 0;
        boolean watch = false;
        for (int n = 0; n < 4; n++) {
            watch |= isDataBreakpoint(dr7, n);
        }
        if (watch || c.guestWatch) {
            c.mmu.flushTlb(false);
        }
        c.guestWatch = watch;
    }

    // ---- EFER and the other MSRs that are CPU state ----

    void writeEfer(long v) {
        if (eferRefusal(v) != null) {
            throw c.gp(0);
        }
        if (c.paging() && ((v ^ c.efer) & EFER_LME) != 0) {
            throw c.gp(0);
        }
        long old = c.efer;
        c.efer = (v & ~EFER_LMA) | (c.efer & EFER_LMA);
        if (((old ^ c.efer) & EFER_NXE) != 0) {
            c.mmu.flushTlb(false);
        }
        c.updateMode();
    }

    static boolean isOwnedMsr(int index) {
        return Arrays.binarySearch(OWNED_MSRS, index) >= 0;
    }

    /** WRMSR of an MSR that is CPU state, with the SDM's #GP conditions. */
    boolean writeOwnedMsr(int index, long v) {
        switch (index) {
            case Msr.IA32_EFER: writeEfer(v); return true;
            case Msr.IA32_STAR: c.star = v; return true;
            case Msr.IA32_LSTAR: c.lstar = requireCanonical(v); return true;
            case Msr.IA32_CSTAR: c.cstar = requireCanonical(v); return true;
            case Msr.IA32_FMASK: c.fmask = v & 0xffffffffL; return true;
            case Msr.IA32_FS_BASE: c.segBase[FS] = requireCanonical(v); return true;
            case Msr.IA32_GS_BASE: c.segBase[GS] = requireCanonical(v); return true;
            case Msr.IA32_KERNEL_GS_BASE: c.kernelGsBase = requireCanonical(v); return true;
            case Msr.IA32_SYSENTER_CS: c.sysenterCs = v & 0xffff; return true;
            case Msr.IA32_SYSENTER_ESP: c.sysenterEsp = requireCanonical(v); return true;
            case Msr.IA32_SYSENTER_EIP: c.sysenterEip = requireCanonical(v); return true;
            case Msr.IA32_PAT:
                for (int i = 0; i < 8; i++) {
                    int t = (int) (v >>> (i * 8)) & 0xff;
                    if (t == 2 || t == 3 || t > 7) {
                        throw c.gp(0);
                    }
                }
                c.pat = v;
                return true;
            case Msr.IA32_PKRS:
                // SDM: #GP without CPUID PKS, or with any of bits 63:32 set.
                if ((cr4BitsCpuidReports() & CR4_PKS) == 0 || (v >>> 32) != 0) {
                    throw c.gp(0);
                }
                c.mmu.setProtectionKeyRights(true, (int) v);
                return true;
            case Msr.IA32_U_CET: case Msr.IA32_S_CET: case Msr.IA32_PL0_SSP: case Msr.IA32_PL1_SSP:
            case Msr.IA32_PL2_SSP: case Msr.IA32_PL3_SSP: case Msr.IA32_INTERRUPT_SSP_TABLE_ADDR:
                Cet.writeMsr(c, index, v);
                return true;
            case Msr.IA32_XSS:
                // SDM: #GP without CPUID XSAVES, or with a bit of a component the CPU lacks.
                if (!cpuidReportsXsaves() || v != 0) {
                    throw c.gp(0);
                }
                return true;
            default: return false;
        }
    }

    private long requireCanonical(long v) {
        if (!canonical(v)) {
            throw c.gp(0);
        }
        return v;
    }

    long readOwnedMsr(int index) {
        switch (index) {
            case Msr.IA32_EFER: return c.efer;
            case Msr.IA32_STAR: return c.star;
            case Msr.IA32_LSTAR: return c.lstar;
            case Msr.IA32_CSTAR: return c.cstar;
            case Msr.IA32_FMASK: return c.fmask;
            case Msr.IA32_FS_BASE: return c.segBase[FS];
            case Msr.IA32_GS_BASE: return c.segBase[GS];
            case Msr.IA32_KERNEL_GS_BASE: return c.kernelGsBase;
            case Msr.IA32_SYSENTER_CS: return c.sysenterCs;
            case Msr.IA32_SYSENTER_ESP: return c.sysenterEsp;
            case Msr.IA32_SYSENTER_EIP: return c.sysenterEip;
            case Msr.IA32_PAT: return c.pat;
            case Msr.IA32_PKRS:
                if ((cr4BitsCpuidReports() & CR4_PKS) == 0) {
                    throw c.gp(0);
                }
                return c.pkrs & 0xffffffffL;
            case Msr.IA32_U_CET: case Msr.IA32_S_CET: case Msr.IA32_PL0_SSP: case Msr.IA32_PL1_SSP:
            case Msr.IA32_PL2_SSP: case Msr.IA32_PL3_SSP: case Msr.IA32_INTERRUPT_SSP_TABLE_ADDR:
                return Cet.readMsr(c, index);
            case Msr.IA32_XSS:
                if (!cpuidReportsXsaves()) {
                    throw c.gp(0);
                }
                return 0;
            default: throw c.gp(0);
        }
    }

    private static int[] sorted(int... indexes) {
        Arrays.sort(indexes); // MSR indexes are below 2^31: signed order is numeric order
        return indexes;
    }
}

package org.tscvm.vm;

import org.tscvm.cpu.Cpu;

/**
 * The VMware backdoor's command port (0x5658), as QEMU's vmport device answers it under
 * {@code -machine vmport=on}: an IN of 32 bits with EAX = the magic runs the command in
 * CX[7:0] and returns its result in EAX, some commands writing EBX and ECX too. Without the
 * magic, or for a command tscvm does not answer, EAX comes back unchanged and no other register
 * moves (QEMU vmport_ioport_read). It reads and writes the vCPU's registers, so it lives with
 * the vCPU rather than on the port bus.
 */
final class VmwareBackdoor {
    /** "VMXh": EAX on the way in, EBX of GETVERSION on the way out. */
    static final int MAGIC = 0x564D5868;
    static final int CMD_GETVERSION = 0x0a;
    /** GETVERSION's EAX and ECX: QEMU's vmware-vmx-version (6) and vmware-vmx-type (2, ESX server). */
    static final int VMX_VERSION = 6, VMX_TYPE = 2;

    private VmwareBackdoor() {
    }

    /** An IN of 32 bits from the command port: the value EAX receives (the handler writes the others). */
    static int in(Cpu cpu) {
        int eax = (int) cpu.getGpr(Cpu.RAX);
        if (eax != MAGIC) {
            return eax;
        }
        switch ((int) cpu.getGpr(Cpu.RCX) & 0xff) {
            case CMD_GETVERSION:
                setLow32(cpu, Cpu.RBX, MAGIC);
                setLow32(cpu, Cpu.RCX, VMX_TYPE);
                return VMX_VERSION;
            default:
                return eax;
        }
    }

    /** A 32-bit register write, which zero-extends into the 64-bit register as IN's own EAX does. */
    private static void setLow32(Cpu cpu, int reg, int value) {
        cpu.setGpr(reg, value & 0xffffffffL);
    }
}

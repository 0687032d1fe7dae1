package org.tscvm.gdb;

import org.tscvm.vm.Vcpu;
import org.tscvm.vm.VcpuFpu;
import org.tscvm.vm.VcpuRegs;
import org.tscvm.vm.VcpuSregs;

/**
 * The registers tscvm shows gdb, numbered as in {@link #TARGET_XML}: gdb's i386:x86-64 core
 * (general registers, rip, eflags, segment selectors, x87), SSE, the FS/GS bases and the
 * control registers with EFER. Every mode shows this 64-bit layout (as qemu-system-x86_64
 * does); in 32-bit code the upper halves are simply what the CPU holds.
 *
 * <p>Writable: the general registers, rip, eflags, fs_base, gs_base, cr0-cr8 and efer. A write
 * to another register is refused unless it leaves the value as it is.
 */
final class X86Registers {
    private X86Registers() {
    }

    static final int RIP = 16, EFLAGS = 17, CS = 18, ST0 = 24, FCTRL = 32, XMM0 = 40, MXCSR = 56,
            FS_BASE = 57, GS_BASE = 58, CR0 = 59, EFER = 64, COUNT = 65;

    /** Size in bytes of register {@code n}. */
    static int size(int n) {
        if (n < RIP || n == RIP || n >= FS_BASE) {
            return 8;
        }
        if (n >= ST0 && n < FCTRL) {
            return 10;
        }
        if (n >= XMM0 && n < MXCSR) {
            return 16;
        }
        return 4;
    }

    /** Byte offset of register {@code n} in the {@code g} packet's block. */
    static int offset(int n) {
        int offset = 0;
        for (int i = 0; i < n; i++) {
            offset += size(i);
        }
        return offset;
    }

    static final int BLOCK_SIZE = offset(COUNT);

    /** gdb's order of the 16 general registers (rax rbx rcx rdx rsi rdi rbp rsp r8..r15). */
    private static long gpr(VcpuRegs r, int n) {
        return switch (n) {
            case 0 -> r.rax();
            case 1 -> r.rbx();
            case 2 -> r.rcx();
            case 3 -> r.rdx();
            case 4 -> r.rsi();
            case 5 -> r.rdi();
            case 6 -> r.rbp();
            case 7 -> r.rsp();
            case 8 -> r.r8();
            case 9 -> r.r9();
            case 10 -> r.r10();
            case 11 -> r.r11();
            case 12 -> r.r12();
            case 13 -> r.r13();
            case 14 -> r.r14();
            default -> r.r15();
        };
    }

    private static VcpuRegs withGpr(VcpuRegs r, int n, long v) {
        long[] g = new long[16];
        for (int i = 0; i < 16; i++) {
            g[i] = i == n ? v : gpr(r, i);
        }
        return new VcpuRegs(g[0], g[1], g[2], g[3], g[4], g[5], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
                g[13], g[14], g[15], r.rip(), r.rflags());
    }

    /** Every register of {@code vcpu}, little-endian, in gdb's numbering. */
    static byte[] readAll(Vcpu vcpu) {
        VcpuRegs r = vcpu.getRegs();
        VcpuSregs s = vcpu.getSregs();
        VcpuFpu f = vcpu.getFpu();
        byte[] st = f.st();
        byte[] block = new byte[BLOCK_SIZE];
        for (int n = 0; n < COUNT; n++) {
            int at = offset(n);
            if (n >= ST0 && n < FCTRL) {
                System.arraycopy(st, 16 * (n - ST0), block, at, 10);
            } else if (n >= XMM0 && n < MXCSR) {
                put(block, at, 8, f.xmm(n - XMM0, 0));
                put(block, at + 8, 8, f.xmm(n - XMM0, 1));
            } else {
                put(block, at, size(n), scalar(n, r, s, f));
            }
        }
        return block;
    }

    private static long scalar(int n, VcpuRegs r, VcpuSregs s, VcpuFpu f) {
        if (n < RIP) {
            return gpr(r, n);
        }
        return switch (n) {
            case RIP -> r.rip();
            case EFLAGS -> r.rflags();
            case CS -> s.cs().selector();
            case CS + 1 -> s.ss().selector();
            case CS + 2 -> s.ds().selector();
            case CS + 3 -> s.es().selector();
            case CS + 4 -> s.fs().selector();
            case CS + 5 -> s.gs().selector();
            case FCTRL -> f.fcw();
            case FCTRL + 1 -> f.fsw();
            case FCTRL + 2 -> f.ftw();
            case MXCSR -> f.mxcsr();
            case FS_BASE -> s.fs().base();
            case GS_BASE -> s.gs().base();
            case CR0 -> s.cr0();
            case CR0 + 1 -> s.cr2();
            case CR0 + 2 -> s.cr3();
            case CR0 + 3 -> s.cr4();
            case CR0 + 4 -> s.cr8();
            case EFER -> s.efer();
            default -> 0; // fiseg fioff foseg fooff fop: tscvm keeps no x87 instruction pointers
        };
    }

    /**
     * Writes register {@code n} from {@code bytes} (little-endian, {@link #size} long); false
     * when the register is read-only here and the value differs from what it holds.
     */
    static boolean write(Vcpu vcpu, int n, byte[] bytes, int from) {
        if (n < 0 || n >= COUNT) {
            return false;
        }
        if (size(n) > 8) {
            byte[] current = readAll(vcpu);
            return java.util.Arrays.equals(current, offset(n), offset(n) + size(n), bytes, from, from + size(n));
        }
        long v = get(bytes, from, size(n));
        VcpuRegs r = vcpu.getRegs();
        if (n < RIP) {
            vcpu.setRegs(withGpr(r, n, v));
            return true;
        }
        if (n == RIP || n == EFLAGS) {
            vcpu.setRegs(n == RIP ? r.withRip(v) : r.withRflags((r.rflags() & ~0xffffffffL) | v));
            return true;
        }
        VcpuSregs s = vcpu.getSregs();
        if (n >= FS_BASE) {
            if (scalar(n, r, s, vcpu.getFpu()) == v) {
                return true;
            }
            vcpu.setSregs(switch (n) {
                case FS_BASE -> s.withSegmentBases(v, s.gs().base());
                case GS_BASE -> s.withSegmentBases(s.fs().base(), v);
                default -> withControl(s, n, v);
            });
            return true;
        }
        long mask = size(n) == 4 ? 0xffffffffL : -1L;
        return (scalar(n, r, s, vcpu.getFpu()) & mask) == v;
    }

    private static VcpuSregs withControl(VcpuSregs s, int n, long v) {
        return new VcpuSregs(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(), s.idt(),
                n == CR0 ? v : s.cr0(), n == CR0 + 1 ? v : s.cr2(), n == CR0 + 2 ? v : s.cr3(),
                n == CR0 + 3 ? v : s.cr4(), n == CR0 + 4 ? v : s.cr8(), n == EFER ? v : s.efer());
    }

    static void put(byte[] b, int at, int size, long v) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    static long get(byte[] b, int at, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (b[at + i] & 0xffL) << (8 * i);
        }
        return v;
    }

    /** The target description gdb reads with qXfer:features:read:target.xml. */
    static final String TARGET_XML = String.join("\n",
            "<?xml version=\"1.0\"?>",
            "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">",
            "<target version=\"1.0\">",
            "  <architecture>i386:x86-64</architecture>",
            "  <feature name=\"org.gnu.gdb.i386.core\">",
            "    <flags id=\"x86_eflags\" size=\"4\">",
            "      <field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"\" start=\"1\" end=\"1\"/>",
            "      <field name=\"PF\" start=\"2\" end=\"2\"/><field name=\"AF\" start=\"4\" end=\"4\"/>",
            "      <field name=\"ZF\" start=\"6\" end=\"6\"/><field name=\"SF\" start=\"7\" end=\"7\"/>",
            "      <field name=\"TF\" start=\"8\" end=\"8\"/><field name=\"IF\" start=\"9\" end=\"9\"/>",
            "      <field name=\"DF\" start=\"10\" end=\"10\"/><field name=\"OF\" start=\"11\" end=\"11\"/>",
            "      <field name=\"NT\" start=\"14\" end=\"14\"/><field name=\"RF\" start=\"16\" end=\"16\"/>",
            "      <field name=\"VM\" start=\"17\" end=\"17\"/><field name=\"AC\" start=\"18\" end=\"18\"/>",
            "      <field name=\"VIF\" start=\"19\" end=\"19\"/><field name=\"VIP\" start=\"20\" end=\"20\"/>",
            "      <field name=\"ID\" start=\"21\" end=\"21\"/>",
            "    </flags>",
            gprs(),
            "    <reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>",
            "    <reg name=\"eflags\" bitsize=\"32\" type=\"x86_eflags\"/>",
            "    <reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>",
            "    <reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>",
            "    <reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>",
            "    <reg name=\"es\" bitsize=\"32\" type=\"int32\"/>",
            "    <reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>",
            "    <reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>",
            x87(),
            "  </feature>",
            "  <feature name=\"org.gnu.gdb.i386.sse\">",
            "    <vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>",
            "    <vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>",
            "    <vector id=\"v16i8\" type=\"int8\" count=\"16\"/>",
            "    <vector id=\"v8i16\" type=\"int16\" count=\"8\"/>",
            "    <vector id=\"v4i32\" type=\"int32\" count=\"4\"/>",
            "    <vector id=\"v2i64\" type=\"int64\" count=\"2\"/>",
            "    <union id=\"vec128\">",
            "      <field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>",
            "      <field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>",
            "      <field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>",
            "      <field name=\"uint128\" type=\"uint128\"/>",
            "    </union>",
            xmms(),
            "    <reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/>",
            "  </feature>",
            "  <feature name=\"org.gnu.gdb.i386.segments\">",
            "    <reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/>",
            "    <reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/>",
            "  </feature>",
            "  <feature name=\"org.tscvm.x86.system\">",
            "    <reg name=\"cr0\" bitsize=\"64\" type=\"int\" group=\"system\"/>",
            "    <reg name=\"cr2\" bitsize=\"64\" type=\"int\" group=\"system\"/>",
            "    <reg name=\"cr3\" bitsize=\"64\" type=\"int\" group=\"system\"/>",
            "    <reg name=\"cr4\" bitsize=\"64\" type=\"int\" group=\"system\"/>",
            "    <reg name=\"cr8\" bitsize=\"64\" type=\"int\" group=\"system\"/>",
            "    <reg name=\"efer\" bitsize=\"64\" type=\"int\" group=\"system\"/>",
            "  </feature>",
            "</target>");

    private static String gprs() {
        String[] names = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < names.length; i++) {
            String type = names[i].equals("rbp") || names[i].equals("rsp") ? "data_ptr" : "int64";
            b.append("    <reg name=\"").append(names[i]).append("\" bitsize=\"64\" type=\"").append(type)
                    .append('"').append(i == 0 ? " regnum=\"0\"" : "").append("/>\n");
        }
        return b.toString().stripTrailing();
    }

    private static String x87() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            b.append("    <reg name=\"st").append(i).append("\" bitsize=\"80\" type=\"i387_ext\"/>\n");
        }
        for (String name : new String[] {"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"}) {
            b.append("    <reg name=\"").append(name).append("\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n");
        }
        return b.toString().stripTrailing();
    }

    private static String xmms() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            b.append("    <reg name=\"xmm").append(i).append("\" bitsize=\"128\" type=\"vec128\"/>\n");
        }
        return b.toString().stripTrailing();
    }
}

package org.tscvm.cpu.diff;

import java.util.List;
import java.util.Random;
import org.tscvm.cpu.diff.InstructionForms.Form;
import org.tscvm.cpu.diff.InstructionForms.G;
import org.tscvm.cpu.diff.InstructionForms.Rm;

/**
 * The x87 forms of the differential test: every D8-DF instruction tscvm implements, each
 * case from a random x87 state (random masks, precision and rounding control, TOP, condition
 * codes, empty and full registers for stack underflow and overflow) and random operands rich
 * in special values: signed zeros, denormals, pseudo-denormals, infinities, QNaNs, SNaNs,
 * unsupported encodings (unnormals, pseudo-NaNs, pseudo-infinities), huge and tiny values,
 * integers at the edges of the integer and BCD ranges. FSW bits the SDM leaves undefined for
 * a form (C0, C2, C3 after most instructions) are not compared.
 */
final class X87Forms {
    private X87Forms() {
    }

    static final int BIAS = 16383;
    static final int C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;
    /** Compare everything but C0, C2 and C3 (SDM: undefined after arithmetic, loads, stores ...). */
    static final int C1_ONLY = 0xffff & ~(C0 | C2 | C3);
    static final int ALL = 0xffff;

    /** The x87 state of one case, as an FXSAVE image. */
    static final class X {
        final G g;
        final Random rnd;
        final byte[] fx = new byte[DiffCase.FX_SIZE];
        int fcw;
        int fsw;
        int ftw;

        X(G g) {
            this.g = g;
            this.rnd = g.rnd;
            int masks = rnd.nextInt(5) == 0 ? rnd.nextInt(64) : 0x3f;
            int pc = new int[] {0, 2, 3, 3, 3, 1}[rnd.nextInt(6)];
            fcw = masks | 0x40 | pc << 8 | rnd.nextInt(4) << 10;
            int flags = rnd.nextInt(3) == 0 ? rnd.nextInt(64) & masks : 0;
            if ((flags & 1) != 0 && rnd.nextBoolean()) {
                flags |= 0x40; // SF with IE
            }
            fsw = flags | rnd.nextInt(8) << 11 | (rnd.nextInt(16) & 0xf) * 0 | randomCc();
            for (int p = 0; p < 8; p++) {
                if (rnd.nextInt(10) < 8) {
                    ftw |= 1 << p;
                }
                long[] v = value(rnd);
                put(32 + 16 * ((p - top() + 8) & 7), v);
            }
        }

        private int randomCc() {
            return (rnd.nextBoolean() ? C0 : 0) | (rnd.nextBoolean() ? C1 : 0) | (rnd.nextBoolean() ? C2 : 0)
                    | (rnd.nextBoolean() ? C3 : 0);
        }

        int top() {
            return (fsw >>> 11) & 7;
        }

        void put(int at, long[] v) {
            for (int k = 0; k < 8; k++) {
                fx[at + k] = (byte) (v[0] >>> (8 * k));
            }
            fx[at + 8] = (byte) v[1];
            fx[at + 9] = (byte) (v[1] >>> 8);
        }

        void st(int i, long[] v) {
            put(32 + 16 * i, v);
            ftw |= 1 << ((top() + i) & 7);
        }

        long[] st(int i) {
            long s = 0;
            for (int k = 7; k >= 0; k--) {
                s = s << 8 | (fx[32 + 16 * i + k] & 0xff);
            }
            return new long[] {s, (fx[40 + 16 * i] & 0xff) | (fx[41 + 16 * i] & 0xff) << 8};
        }

        void full(int i) {
            ftw |= 1 << ((top() + i) & 7);
        }

        void empty(int i) {
            ftw &= ~(1 << ((top() + i) & 7));
        }

        /** Mostly present operands (an empty one now and then: stack underflow). */
        void usually(int... regs) {
            for (int i : regs) {
                if (rnd.nextInt(16) != 0) {
                    full(i);
                }
            }
        }

        /** A push: ST7 usually empty (full now and then: stack overflow). */
        void roomToPush() {
            if (rnd.nextInt(12) != 0) {
                empty(7);
            }
        }

        byte[] image() {
            fx[0] = (byte) fcw;
            fx[1] = (byte) (fcw >>> 8);
            fx[2] = (byte) fsw;
            fx[3] = (byte) (fsw >>> 8);
            fx[4] = (byte) ftw;
            return fx.clone();
        }

        DiffCase build(String name, int fswDefined) {
            return build(name, fswDefined, 0, 0);
        }

        DiffCase build(String name, int fswDefined, int memFrom, int memTo) {
            return new DiffCase(name, g.e.bytes(), g.gpr.clone(), g.rflags, g.mem.clone(), DiffCase.ARITH_FLAGS,
                    g.undefinedRegs, image(), fswDefined, memFrom, memTo, ulps);
        }

        /** Set by transcendental forms: registers compared within this many ulps. */
        int ulps;
    }

    // ---- values ----

    /** An 80-bit value {significand, sign/exponent}, special values about half the time. */
    static long[] value(Random rnd) {
        int sign = rnd.nextBoolean() ? 0x8000 : 0;
        long r = rnd.nextLong();
        switch (rnd.nextInt(24)) {
            case 0: return new long[] {0, sign};
            case 1: return new long[] {(r >>> 1) >>> rnd.nextInt(63), sign};               // denormal
            case 2: return new long[] {r | Long.MIN_VALUE, sign};                           // pseudo-denormal
            case 3: return new long[] {Long.MIN_VALUE, sign | 0x7fff};                      // infinity
            case 4: return new long[] {r | 0xc000000000000000L, sign | 0x7fff};             // QNaN
            case 5: return new long[] {(r & 0x3fffffffffffffffL | 1) | Long.MIN_VALUE, sign | 0x7fff}; // SNaN
            case 6: return new long[] {r >>> 1, sign | (1 + rnd.nextInt(0x7ffe))};          // unnormal
            case 7: return new long[] {r >>> 1, sign | 0x7fff};                             // pseudo-NaN/-infinity
            case 8: return new long[] {r | Long.MIN_VALUE, sign | (1 + rnd.nextInt(64))};   // tiny
            case 9: return new long[] {r | Long.MIN_VALUE, sign | (0x7ffe - rnd.nextInt(64))}; // huge
            case 10: case 11: {                                                             // small integer
                long v = rnd.nextInt(2000) - 1000;
                return integer(v);
            }
            case 12: {                                                                      // few significand bits
                return new long[] {(r | Long.MIN_VALUE) & (-1L << (40 + rnd.nextInt(24))), sign | (BIAS - 8 + rnd.nextInt(16))};
            }
            case 13: return new long[] {Long.MIN_VALUE, sign | (BIAS + rnd.nextInt(70) - 5)}; // powers of two
            case 14: return new long[] {r | Long.MIN_VALUE, sign | (BIAS + 60 + rnd.nextInt(8))}; // near 2^63
            case 15: return new long[] {-1L, sign | (BIAS - 1 + rnd.nextInt(3))};          // all ones
            default: return new long[] {r | Long.MIN_VALUE, sign | (BIAS - 40 + rnd.nextInt(80))};
        }
    }

    static long[] integer(long v) {
        if (v == 0) {
            return new long[] {0, 0};
        }
        long m = Math.abs(v);
        int z = Long.numberOfLeadingZeros(m);
        return new long[] {m << z, (v < 0 ? 0x8000 : 0) | (BIAS + 63 - z)};
    }

    static int single(Random rnd) {
        int sign = rnd.nextBoolean() ? 0x80000000 : 0;
        int r = rnd.nextInt();
        switch (rnd.nextInt(12)) {
            case 0: return sign;
            case 1: return sign | (r & 0x7fffff);                      // denormal (or zero)
            case 2: return sign | 0x7f800000;                          // infinity
            case 3: return sign | 0x7fc00000 | (r & 0x3fffff);         // QNaN
            case 4: return sign | 0x7f800000 | (r & 0x3fffff | 1);     // SNaN
            case 5: return sign | (rnd.nextInt(4) + 1) << 23 | (r & 0x7fffff); // tiny normal
            case 6: return sign | (rnd.nextInt(10) + 120) << 23 | (r & 0x7fffff);
            default: return sign | (r & 0x7fffffff) % 0x7f800000;
        }
    }

    static long dbl(Random rnd) {
        long sign = rnd.nextBoolean() ? Long.MIN_VALUE : 0;
        long r = rnd.nextLong();
        switch (rnd.nextInt(12)) {
            case 0: return sign;
            case 1: return sign | (r & 0xfffffffffffffL);
            case 2: return sign | 0x7ff0000000000000L;
            case 3: return sign | 0x7ff8000000000000L | (r & 0x7ffffffffffffL);
            case 4: return sign | 0x7ff0000000000000L | (r & 0x7ffffffffffffL | 1);
            case 5: return sign | (long) (rnd.nextInt(4) + 1) << 52 | (r & 0xfffffffffffffL);
            case 6: return sign | (long) (rnd.nextInt(20) + 1013) << 52 | (r & 0xfffffffffffffL);
            default: return sign | Long.remainderUnsigned(r & Long.MAX_VALUE, 0x7ff0000000000000L);
        }
    }

    static long intValue(Random rnd, int bits) {
        switch (rnd.nextInt(6)) {
            case 0: return new long[] {0, 1, -1, (1L << (bits - 1)) - 1, -(1L << (bits - 1))}[rnd.nextInt(5)];
            case 1: return rnd.nextInt(200) - 100;
            default: return rnd.nextLong() >> (64 - bits + rnd.nextInt(bits));
        }
    }

    /** A value near or beyond the integer range of {@code bits} (for FIST/FISTTP/FBSTP). */
    static long[] forInteger(Random rnd, int bits) {
        switch (rnd.nextInt(5)) {
            case 0: return value(rnd);
            case 1: { // around the limits, with a fraction
                int sign = rnd.nextBoolean() ? 0x8000 : 0;
                return new long[] {Long.MIN_VALUE | (rnd.nextLong() >>> (bits + rnd.nextInt(3))), sign | (BIAS + bits - 1 - rnd.nextInt(2))};
            }
            case 2: { // halves: n + 0.5
                long n = rnd.nextInt(100) - 50;
                long[] v = integer(2 * n + 1);
                return new long[] {v[0], v[1] - 1};
            }
            default: {
                int sign = rnd.nextBoolean() ? 0x8000 : 0;
                return new long[] {rnd.nextLong() | Long.MIN_VALUE, sign | (BIAS - 2 + rnd.nextInt(bits + 4))};
            }
        }
    }

    static void putLe(byte[] mem, int off, long v, int bytes) {
        for (int k = 0; k < bytes; k++) {
            mem[off + k] = (byte) (v >>> (8 * k));
        }
    }

    // ---- forms ----

    private interface Setup {
        /** Prepares state and memory for one case and returns the FSW bits to compare. */
        int prepare(X x, Rm rm);
    }

    private static void memForm(List<Form> forms, String name, int opcode, int digit, Setup setup) {
        forms.add(new Form(name, rnd -> {
            G g = new G(rnd);
            Rm rm = g.rm(true, 64, 0, false);
            X x = new X(g);
            int defined = setup.prepare(x, rm);
            g.op(opcode);
            g.modrm(digit, rm, 0);
            return x.build(name, defined);
        }));
    }

    private static void regForm(List<Form> forms, String name, int opcode, int modrm, Setup setup) {
        forms.add(new Form(name, rnd -> {
            G g = new G(rnd);
            X x = new X(g);
            int defined = setup.prepare(x, null);
            g.op(opcode, modrm);
            return x.build(name, defined);
        }));
    }

    private static final String[] ARITH = {"fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"};
    private static final String[] IARITH = {"fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"};

    static void add(List<Form> forms) {
        for (int k = 0; k < 8; k++) {
            final int kind = k;
            int defined = k == 2 || k == 3 ? ALL : C1_ONLY;
            memForm(forms, ARITH[k] + " m32fp", 0xd8, k, (x, rm) -> {
                x.usually(0);
                sometimesNear(x, rm, 4);
                return defined;
            });
            memForm(forms, ARITH[k] + " m64fp", 0xdc, k, (x, rm) -> {
                x.usually(0);
                sometimesNear(x, rm, 8);
                return defined;
            });
            memForm(forms, IARITH[k] + " m32int", 0xda, k, (x, rm) -> {
                x.usually(0);
                putLe(x.g.mem, rm.offset(), intValue(x.rnd, 32), 4);
                return defined;
            });
            memForm(forms, IARITH[k] + " m16int", 0xde, k, (x, rm) -> {
                x.usually(0);
                putLe(x.g.mem, rm.offset(), intValue(x.rnd, 16), 2);
                return defined;
            });
            if (kind == 2 || kind == 3) {
                continue;
            }
            for (int i = 0; i < 8; i += 1 + (i == 0 ? 0 : 2)) {
                final int sti = i;
                Setup close = (x, rm) -> {
                    x.usually(0, sti);
                    if (sti != 0 && x.rnd.nextInt(4) == 0) { // nearly equal operands: cancellation
                        long[] v = x.st(0);
                        x.st(sti, new long[] {v[0] ^ (x.rnd.nextLong() >>> x.rnd.nextInt(64)), v[1] ^ (x.rnd.nextInt(2) << 15)});
                    }
                    return C1_ONLY;
                };
                regForm(forms, ARITH[k] + " st,st(" + i + ")", 0xd8, 0xc0 | k << 3 | i, close);
                if (i == 0) {
                    continue;
                }
                int rev = k >= 4 ? k ^ 1 : k;  // DC E0+i is FSUBR ST(i),ST: encoding digit 4 names fsubr
                regForm(forms, ARITH[rev] + " st(" + i + "),st", 0xdc, 0xc0 | k << 3 | i, close);
                regForm(forms, ARITH[rev] + "p st(" + i + "),st", 0xde, 0xc0 | k << 3 | i, close);
            }
        }
        // Compares.
        for (int i = 1; i < 8; i += 3) {
            final int sti = i;
            Setup two = (x, rm) -> {
                x.usually(0, sti);
                if (x.rnd.nextInt(4) == 0) {
                    x.st(sti, x.st(0)); // equal operands
                }
                return ALL;
            };
            regForm(forms, "fcom st(" + i + ")", 0xd8, 0xd0 | i, two);
            regForm(forms, "fcomp st(" + i + ")", 0xd8, 0xd8 | i, two);
            regForm(forms, "fucom st(" + i + ")", 0xdd, 0xe0 | i, two);
            regForm(forms, "fucomp st(" + i + ")", 0xdd, 0xe8 | i, two);
            // SDM FCOMI: "C1 set to 0"; an AMD host leaves it unchanged: not compared.
            Setup twoNoC1 = (x, rm) -> two.prepare(x, rm) & ~C1;
            regForm(forms, "fcomi st,st(" + i + ")", 0xdb, 0xf0 | i, twoNoC1);
            regForm(forms, "fucomi st,st(" + i + ")", 0xdb, 0xe8 | i, twoNoC1);
            regForm(forms, "fcomip st,st(" + i + ")", 0xdf, 0xf0 | i, twoNoC1);
            regForm(forms, "fucomip st,st(" + i + ")", 0xdf, 0xe8 | i, twoNoC1);
            for (int cc = 0; cc < 8; cc++) {
                String[] names = {"fcmovb", "fcmove", "fcmovbe", "fcmovu", "fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu"};
                regForm(forms, names[cc] + " st,st(" + i + ")", cc < 4 ? 0xda : 0xdb, 0xc0 | (cc & 3) << 3 | i, (x, rm) -> {
                    x.usually(0, sti);
                    return C1_ONLY;
                });
            }
            regForm(forms, "fld st(" + i + ")", 0xd9, 0xc0 | i, (x, rm) -> {
                x.usually(sti);
                x.roomToPush();
                return C1_ONLY;
            });
            regForm(forms, "fxch st(" + i + ")", 0xd9, 0xc8 | i, (x, rm) -> {
                x.usually(0, sti);
                return C1_ONLY;
            });
            regForm(forms, "fst st(" + i + ")", 0xdd, 0xd0 | i, (x, rm) -> {
                x.usually(0);
                return C1_ONLY;
            });
            regForm(forms, "fstp st(" + i + ")", 0xdd, 0xd8 | i, (x, rm) -> {
                x.usually(0);
                return C1_ONLY;
            });
            regForm(forms, "ffree st(" + i + ")", 0xdd, 0xc0 | i, (x, rm) -> C1_ONLY & ~C1);
            regForm(forms, "ffreep st(" + i + ")", 0xdf, 0xc0 | i, (x, rm) -> C1_ONLY & ~C1);
        }
        Setup pair = (x, rm) -> {
            x.usually(0, 1);
            return ALL;
        };
        regForm(forms, "fcompp", 0xde, 0xd9, pair);
        regForm(forms, "fucompp", 0xda, 0xe9, pair);
        regForm(forms, "ftst", 0xd9, 0xe4, (x, rm) -> {
            x.usually(0);
            return ALL;
        });
        regForm(forms, "fxam", 0xd9, 0xe5, (x, rm) -> ALL);
        Setup one = (x, rm) -> {
            x.usually(0);
            return C1_ONLY;
        };
        regForm(forms, "fchs", 0xd9, 0xe0, one);
        regForm(forms, "fabs", 0xd9, 0xe1, one);
        regForm(forms, "fsqrt", 0xd9, 0xfa, one);
        regForm(forms, "frndint", 0xd9, 0xfc, one);
        regForm(forms, "fscale", 0xd9, 0xfd, (x, rm) -> {
            x.usually(0, 1);
            if (x.rnd.nextBoolean()) {
                x.st(1, integer(x.rnd.nextInt(40000) - 20000));
            }
            return C1_ONLY;
        });
        regForm(forms, "fxtract", 0xd9, 0xf4, (x, rm) -> {
            x.usually(0);
            x.roomToPush();
            return C1_ONLY;
        });
        regForm(forms, "fprem", 0xd9, 0xf8, (x, rm) -> {
            x.usually(0, 1);
            return ALL;
        });
        regForm(forms, "fprem1", 0xd9, 0xf5, (x, rm) -> {
            x.usually(0, 1);
            return ALL;
        });
        regForm(forms, "fincstp", 0xd9, 0xf7, (x, rm) -> C1_ONLY);
        regForm(forms, "fdecstp", 0xd9, 0xf6, (x, rm) -> C1_ONLY);
        regForm(forms, "fnop", 0xd9, 0xd0, (x, rm) -> ALL);
        regForm(forms, "fnclex", 0xdb, 0xe2, (x, rm) -> ALL);
        regForm(forms, "fninit", 0xdb, 0xe3, (x, rm) -> ALL);
        regForm(forms, "fnstsw ax", 0xdf, 0xe0, (x, rm) -> ALL);
        String[] consts = {"fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz"};
        for (int k = 0; k < 7; k++) {
            regForm(forms, consts[k], 0xd9, 0xe8 + k, (x, rm) -> {
                x.roomToPush();
                return C1_ONLY;
            });
        }
        // Loads and stores.
        memForm(forms, "fld m32fp", 0xd9, 0, (x, rm) -> {
            x.roomToPush();
            putLe(x.g.mem, rm.offset(), single(x.rnd), 4);
            return C1_ONLY;
        });
        memForm(forms, "fld m64fp", 0xdd, 0, (x, rm) -> {
            x.roomToPush();
            putLe(x.g.mem, rm.offset(), dbl(x.rnd), 8);
            return C1_ONLY;
        });
        memForm(forms, "fld m80fp", 0xdb, 5, (x, rm) -> {
            x.roomToPush();
            long[] v = value(x.rnd);
            putLe(x.g.mem, rm.offset(), v[0], 8);
            putLe(x.g.mem, rm.offset() + 8, v[1], 2);
            return C1_ONLY;
        });
        memForm(forms, "fild m16int", 0xdf, 0, (x, rm) -> {
            x.roomToPush();
            putLe(x.g.mem, rm.offset(), intValue(x.rnd, 16), 2);
            return C1_ONLY;
        });
        memForm(forms, "fild m32int", 0xdb, 0, (x, rm) -> {
            x.roomToPush();
            putLe(x.g.mem, rm.offset(), intValue(x.rnd, 32), 4);
            return C1_ONLY;
        });
        memForm(forms, "fild m64int", 0xdf, 5, (x, rm) -> {
            x.roomToPush();
            putLe(x.g.mem, rm.offset(), intValue(x.rnd, 64), 8);
            return C1_ONLY;
        });
        memForm(forms, "fbld m80bcd", 0xdf, 4, (x, rm) -> {
            x.roomToPush();
            long low = 0;
            for (int k = 0; k < 16; k++) {
                low |= (long) x.rnd.nextInt(10) << (4 * k);
            }
            putLe(x.g.mem, rm.offset(), low, 8);
            putLe(x.g.mem, rm.offset() + 8, x.rnd.nextInt(10) | x.rnd.nextInt(10) << 4 | (x.rnd.nextBoolean() ? 0x8000 : 0), 2);
            return C1_ONLY;
        });
        Setup st0 = (x, rm) -> {
            x.usually(0);
            return C1_ONLY;
        };
        memForm(forms, "fst m32fp", 0xd9, 2, st0);
        memForm(forms, "fstp m32fp", 0xd9, 3, st0);
        memForm(forms, "fst m64fp", 0xdd, 2, st0);
        memForm(forms, "fstp m64fp", 0xdd, 3, st0);
        memForm(forms, "fstp m80fp", 0xdb, 7, st0);
        int[][] ints = {{0xdf, 2, 16}, {0xdf, 3, 16}, {0xdb, 2, 32}, {0xdb, 3, 32}, {0xdf, 7, 64},
            {0xdf, 1, 16}, {0xdb, 1, 32}, {0xdd, 1, 64}};
        for (int[] f : ints) {
            String name = (f[1] == 1 ? "fisttp" : f[1] == 2 ? "fist" : "fistp") + " m" + f[2] + "int";
            memForm(forms, name, f[0], f[1], (x, rm) -> {
                x.usually(0);
                x.st(0, forInteger(x.rnd, f[2]));
                if (x.rnd.nextInt(16) == 0) {
                    x.empty(0);
                }
                return C1_ONLY;
            });
        }
        memForm(forms, "fbstp m80bcd", 0xdf, 6, (x, rm) -> {
            x.usually(0);
            x.st(0, x.rnd.nextBoolean() ? forInteger(x.rnd, 60) : integer(x.rnd.nextLong() % 1_000_000_000_000_000_000L));
            if (x.rnd.nextInt(16) == 0) {
                x.empty(0);
            }
            return C1_ONLY;
        });
        // Transcendentals: within 2 ulps of the host (each within an ulp of the exact value);
        // C1 (rounded up) may then differ, C0 and C3 are undefined.
        int trans = ALL & ~(C0 | C1 | C3);
        regForm(forms, "fsin", 0xd9, 0xfe, (x, rm) -> angle(x, trans));
        regForm(forms, "fcos", 0xd9, 0xff, (x, rm) -> angle(x, trans));
        regForm(forms, "fsincos", 0xd9, 0xfb, (x, rm) -> {
            x.roomToPush();
            return angle(x, trans);
        });
        regForm(forms, "fptan", 0xd9, 0xf2, (x, rm) -> {
            x.roomToPush();
            return angle(x, trans);
        });
        regForm(forms, "f2xm1", 0xd9, 0xf0, (x, rm) -> {
            x.usually(0);
            x.ulps = 2;
            int sign = x.rnd.nextBoolean() ? 0x8000 : 0;
            long[] v = value(x.rnd);
            boolean inDomain = (v[1] & 0x7fff) < BIAS || (v[1] & 0x7fff) == 0x7fff;
            // Outside -1..+1 the SDM leaves the result undefined: such values become in-domain ones.
            x.st(0, x.rnd.nextInt(4) != 0 || !inDomain
                    ? new long[] {x.rnd.nextLong() | Long.MIN_VALUE, sign | (BIAS - 1 - x.rnd.nextInt(70))} : v);
            return trans;
        });
        regForm(forms, "fyl2x", 0xd9, 0xf1, (x, rm) -> {
            x.usually(0, 1);
            x.ulps = 2;
            if (x.rnd.nextInt(4) != 0) {
                x.st(0, new long[] {x.rnd.nextLong() | Long.MIN_VALUE, BIAS - 200 + x.rnd.nextInt(400)});
                x.st(1, new long[] {x.rnd.nextLong() | Long.MIN_VALUE, (x.rnd.nextBoolean() ? 0x8000 : 0) | (BIAS - 10 + x.rnd.nextInt(20))});
            }
            return trans;
        });
        regForm(forms, "fyl2xp1", 0xd9, 0xf9, (x, rm) -> {
            x.usually(0, 1);
            x.ulps = 2;
            long[] v = x.st(0);
            int e = (int) v[1] & 0x7fff;
            if (x.rnd.nextInt(4) != 0 || (e >= BIAS - 2 && e != 0x7fff)) { // the SDM's domain: |x| < 1 - sqrt(2)/2
                int sign = x.rnd.nextBoolean() ? 0x8000 : 0;
                x.st(0, new long[] {x.rnd.nextLong() | Long.MIN_VALUE, sign | (BIAS - 3 - x.rnd.nextInt(60))});
                x.st(1, new long[] {x.rnd.nextLong() | Long.MIN_VALUE, (x.rnd.nextBoolean() ? 0x8000 : 0) | (BIAS - 10 + x.rnd.nextInt(20))});
            }
            return trans;
        });
        regForm(forms, "fpatan", 0xd9, 0xf3, (x, rm) -> {
            x.usually(0, 1);
            x.ulps = 2;
            if (x.rnd.nextInt(4) != 0) {
                for (int i = 0; i < 2; i++) {
                    x.st(i, new long[] {x.rnd.nextLong() | Long.MIN_VALUE, (x.rnd.nextBoolean() ? 0x8000 : 0) | (BIAS - 30 + x.rnd.nextInt(60))});
                }
            }
            return trans;
        });
        // Undocumented aliases every x87 since the 387 executes (objdump calls them "(bad)").
        int[][] aliases = {{0xdc, 0xd0}, {0xdc, 0xd8}, {0xdd, 0xc8}, {0xde, 0xd0}, {0xd9, 0xd8}, {0xdf, 0xd0},
            {0xdf, 0xd8}, {0xdf, 0xc8}};
        String[] aliasNames = {"fcom", "fcomp", "fxch", "fcomp", "fstp", "fstp", "fstp", "fxch"};
        for (int k = 0; k < aliases.length; k++) {
            int[] a = aliases[k];
            boolean compare = aliasNames[k].startsWith("fcom");
            for (int i = 1; i < 8; i += 3) {
                final int sti = i;
                regForm(forms, aliasNames[k] + " st(" + i + ") " + ALIAS + String.format("%02x %02x", a[0], a[1] + i),
                        a[0], a[1] + i, (x, rm) -> {
                            x.usually(0, sti);
                            return compare ? ALL : C1_ONLY;
                        });
            }
        }
        for (int m : new int[] {0xe0, 0xe1, 0xe4}) {
            regForm(forms, "fnop " + ALIAS + String.format("db %02x (fneni, fndisi, fnsetpm)", m), 0xdb, m, (x, rm) -> ALL);
        }
        // The environment and the whole state: FIP, FCS/FOP, FDP and FDS (bytes 12-27 of the
        // 32-bit format) are not compared, as AMD hosts keep them only while an exception is pending.
        envForm(forms, "fnstenv m28byte", 0xd9, 6, false, 28, false);
        envForm(forms, "fldenv m28byte", 0xd9, 4, true, 28, false);
        envForm(forms, "fnsave m108byte", 0xdd, 6, false, 108, false);
        envForm(forms, "frstor m108byte", 0xdd, 4, true, 108, false);
        envForm(forms, "fnstenvw m14byte", 0xd9, 6, false, 14, true);
        envForm(forms, "fldenvw m14byte", 0xd9, 4, true, 14, true);
        // Control.
        memForm(forms, "fnstcw m2byte", 0xd9, 7, (x, rm) -> ALL);
        memForm(forms, "fldcw m2byte", 0xd9, 5, (x, rm) -> {
            int cw = x.rnd.nextInt(8) == 0 ? x.rnd.nextInt(0x10000) : (x.rnd.nextInt(64) | x.rnd.nextInt(16) << 8);
            putLe(x.g.mem, rm.offset(), cw, 2);
            return ALL;
        });
        memForm(forms, "fnstsw m2byte", 0xdd, 7, (x, rm) -> ALL);
    }

    /** An argument for FSIN/FCOS/FSINCOS/FPTAN: mostly |x| < 2^20, some specials and some beyond 2^63. */
    private static int angle(X x, int defined) {
        x.usually(0);
        x.ulps = 2;
        int pick = x.rnd.nextInt(8);
        int sign = x.rnd.nextBoolean() ? 0x8000 : 0;
        if (pick < 5) {
            // |x| < 1: the host reduces by a 66-bit pi, several ulps off near pi/2 and thousands
            // for large angles (tscvm reduces exactly; X87TransTest checks those against BigDecimal).
            x.st(0, new long[] {x.rnd.nextLong() | Long.MIN_VALUE, sign | (BIAS - 30 + x.rnd.nextInt(30))});
        } else if (pick == 5) {
            x.st(0, new long[] {x.rnd.nextLong() | Long.MIN_VALUE, sign | (BIAS + 63 + x.rnd.nextInt(3))});
        } else {
            long[] v = x.st(0);
            int e = (int) v[1] & 0x7fff;
            if (e >= BIAS && e < BIAS + 63 && (v[0] < 0)) {
                x.st(0, new long[] {v[0], (v[1] & 0x8000) | (BIAS - 1 - x.rnd.nextInt(8))});
            }
        }
        return defined;
    }

    /** Marks a form objdump does not name (an alias); the objdump check skips it. */
    static final String ALIAS = "alias ";

    /**
     * FNSTENV/FLDENV/FNSAVE/FRSTOR at a buffer offset with room for the image; a loaded image
     * is a random but plausible one (its FSW without ES: ES follows from flags and masks).
     */
    private static void envForm(List<Form> forms, String name, int opcode, int digit, boolean load, int size,
            boolean small) {
        forms.add(new Form(name, rnd -> {
            G g = new G(rnd);
            if (small) {
                g.e.prefix(0x66);
            }
            int off = 8 * rnd.nextInt((DiffCase.BUF_SIZE - size) / 8);
            Rm rm = new Rm(true, -1, off);
            X x = new X(g);
            int env = small ? 14 : 28;
            if (load) {
                X y = new X(g);
                int tag = 0;
                for (int p = 0; p < 8; p++) {
                    tag |= ((y.ftw >>> p) & 1) != 0 ? rnd.nextInt(3) << (2 * p) : 3 << (2 * p);
                }
                int fsw = y.fsw & ~0x80;
                if (rnd.nextInt(4) == 0) {
                    fsw |= rnd.nextInt(64); // maybe unmasked flags: ES must follow
                }
                int fcw = y.fcw | (rnd.nextInt(8) == 0 ? rnd.nextInt(0x10000) : 0);
                int w = small ? 2 : 4;
                putLe(g.mem, off, fcw, 2);
                putLe(g.mem, off + w, fsw, 2);
                putLe(g.mem, off + 2 * w, tag, 2);
                for (int i = 0; i < 8 && size > env; i++) {
                    long[] v = value(rnd);
                    putLe(g.mem, off + env + 10 * i, v[0], 8);
                    putLe(g.mem, off + env + 10 * i + 8, v[1], 2);
                }
            }
            g.op(opcode);
            g.modrm(digit, rm, 0);
            int pointers = small ? 6 : 12;
            return x.build(name, ALL, off + pointers, off + env);
        }));
    }

    /** A memory operand: random, or ST(0) rounded to the operand's format (equal compares, exact cancellation). */
    private static void sometimesNear(X x, Rm rm, int bytes) {
        long[] st0 = x.st(0);
        int e = (int) st0[1] & 0x7fff;
        long sign = (st0[1] & 0x8000) != 0 ? 1 : 0;
        boolean near = x.rnd.nextInt(4) == 0 && st0[0] < 0;
        if (bytes == 4) {
            int te = e - BIAS + 127;
            if (near && te > 0 && te < 255) { // ST0 truncated to single: equal or cancelling operands
                putLe(x.g.mem, rm.offset(), sign << 31 | (long) te << 23 | ((st0[0] >>> 40) & 0x7fffff), 4);
            } else {
                putLe(x.g.mem, rm.offset(), single(x.rnd), 4);
            }
        } else {
            int te = e - BIAS + 1023;
            if (near && te > 0 && te < 2047) {
                putLe(x.g.mem, rm.offset(), sign << 63 | (long) te << 52 | ((st0[0] >>> 11) & 0xfffffffffffffL), 8);
            } else {
                putLe(x.g.mem, rm.offset(), dbl(x.rnd), 8);
            }
        }
    }
}

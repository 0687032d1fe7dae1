package org.tscvm.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The x87 transcendentals against a BigDecimal reference (60 digits): every result within one
 * ulp of the exact value, including large arguments of FSIN/FCOS/FPTAN (up to 2^32) and
 * arguments next to multiples of pi/2, where the hardware's 66-bit pi is off and the
 * differential test cannot compare.
 */
class X87TransTest {
    private static final MathContext MC = new MathContext(70);
    private static final BigDecimal PI = pi();

    private final CpuRig rig = new CpuRig().longMode();

    /** Runs {@code op} (two bytes) on ST0 = x, ST1 = y from an FNINIT state; returns ST0 and ST1 afterwards. */
    private long[] run(int op, long xs, int xe, long ys, int ye) {
        byte[] fx = new byte[160];
        fx[0] = 0x7f;
        fx[1] = 0x03;
        ByteBuffer b = ByteBuffer.wrap(fx).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(2, (short) (6 << 11)); // TOP 6: ST0 = R6, ST1 = R7
        fx[4] = (byte) 0xc0;
        b.putLong(32, xs);
        b.putShort(40, (short) xe);
        b.putLong(48, ys);
        b.putShort(56, (short) ye);
        rig.cpu.setX87(fx);
        rig.withCode(new byte[] {(byte) (op >>> 8), (byte) op, (byte) 0xf4});
        assertThat(rig.cpu.run(10)).isEqualTo(RunStop.HALTED);
        ByteBuffer o = ByteBuffer.wrap(rig.cpu.getX87()).order(ByteOrder.LITTLE_ENDIAN);
        return new long[] {o.getLong(32), o.getShort(40) & 0xffff, o.getLong(48), o.getShort(56) & 0xffff, o.getShort(2) & 0xffff};
    }

    private static BigDecimal value(long sig, int se) {
        BigDecimal m = new BigDecimal(new BigInteger(Long.toUnsignedString(sig)));
        int e = (se & 0x7fff) - 16383 - 63;
        BigDecimal v = e >= 0 ? m.multiply(new BigDecimal(BigInteger.TWO.pow(e))) : m.divide(new BigDecimal(BigInteger.TWO.pow(-e)), MC);
        return (se & 0x8000) != 0 ? v.negate() : v;
    }

    /** |result - exact| in ulps of the result. */
    private static double ulps(long sig, int se, BigDecimal exact) {
        BigDecimal got = value(sig, se);
        int e = Math.max(se & 0x7fff, 1) - 16383 - 63;
        BigDecimal ulp = e >= 0 ? new BigDecimal(BigInteger.TWO.pow(e)) : BigDecimal.ONE.divide(new BigDecimal(BigInteger.TWO.pow(-e)), MC);
        return got.subtract(exact).abs().divide(ulp, MC).doubleValue();
    }

    @Test
    void sinCosAndTanAreWithinAnUlpUpToTwoToThe32() {
        Random rnd = new Random(0x5111);
        List<String> bad = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            long sig = rnd.nextLong() | Long.MIN_VALUE;
            int se = (rnd.nextBoolean() ? 0x8000 : 0) | (16383 - 20 + rnd.nextInt(52));
            if (i % 10 == 0) { // next to a multiple of pi/2
                BigDecimal k = new BigDecimal(1 + rnd.nextInt(1 << 20));
                long[] near = toExt(PI.divide(BigDecimal.valueOf(2), MC).multiply(k, MC));
                sig = near[0] + rnd.nextInt(5) - 2;
                se = (int) near[1];
            }
            BigDecimal x = value(sig, se);
            BigDecimal s = sin(x), c = cos(x);
            check(bad, "fsin", x, run(0xd9fe, sig, se, 0, 0), 0, s);
            check(bad, "fcos", x, run(0xd9ff, sig, se, 0, 0), 0, c);
            long[] sc = run(0xd9fb, sig, se, 0, 0); // ST0 = cos, ST1 = sin after the push
            check(bad, "fsincos cos", x, new long[] {sc[0], sc[1]}, 0, c);
            check(bad, "fptan", x, run(0xd9f2, sig, se, 0, 0), 2, s.divide(c, MC)); // ST1 = tan
        }
        assertThat(bad).isEmpty();
    }

    @Test
    void exponentialsLogarithmsAndArctangentsAreWithinAnUlp() {
        Random rnd = new Random(0x10ca);
        List<String> bad = new ArrayList<>();
        BigDecimal ln2 = ln(BigDecimal.valueOf(2));
        for (int i = 0; i < 300; i++) {
            long xs = rnd.nextLong() | Long.MIN_VALUE;
            int sign = rnd.nextBoolean() ? 0x8000 : 0;
            // F2XM1 on -1..1
            int xe = sign | (16383 - 1 - rnd.nextInt(40));
            BigDecimal x = value(xs, xe);
            check(bad, "f2xm1", x, run(0xd9f0, xs, xe, 0, 0), 0, exp(x.multiply(ln2, MC)).subtract(BigDecimal.ONE));
            // FYL2X: y log2(x), x > 0 anywhere, y moderate; the result replaces ST1 and ST0 pops.
            int pe = 16383 - 300 + rnd.nextInt(600);
            long ys = rnd.nextLong() | Long.MIN_VALUE;
            int ye = sign | (16383 - 5 + rnd.nextInt(10));
            BigDecimal y = value(ys, ye);
            BigDecimal px = value(xs, pe);
            check(bad, "fyl2x", px, run(0xd9f1, xs, pe, ys, ye), 0, y.multiply(ln(px), MC).divide(ln2, MC));
            // FYL2XP1 on |x| < 1 - sqrt(2)/2
            int se1 = sign | (16383 - 3 - rnd.nextInt(40));
            BigDecimal x1 = value(xs, se1);
            check(bad, "fyl2xp1", x1, run(0xd9f9, xs, se1, ys, ye), 0,
                    y.multiply(ln(BigDecimal.ONE.add(x1)), MC).divide(ln2, MC));
            // FPATAN: atan2(ST1, ST0) in every quadrant
            int ae = (rnd.nextBoolean() ? 0x8000 : 0) | (16383 - 30 + rnd.nextInt(60));
            BigDecimal ax = value(xs, ae);
            check(bad, "fpatan", ax, run(0xd9f3, xs, ae, ys, ye), 0, atan2(y, ax));
        }
        assertThat(bad).isEmpty();
    }

    private static void check(List<String> bad, String what, BigDecimal x, long[] out, int at, BigDecimal exact) {
        double u = ulps(out[at], (int) out[at + 1], exact);
        if (!(u <= 1.0)) {
            bad.add(String.format("%s(%s) = %04x:%016x, %.2f ulps from %s", what, x.round(new MathContext(25)),
                    out[at + 1], out[at], u, exact.round(new MathContext(25))));
        }
    }

    // ---- the BigDecimal reference ----

    private static BigDecimal pi() {
        // Machin: pi = 16 atan(1/5) - 4 atan(1/239)
        MathContext mc = new MathContext(90);
        return atanInverse(5, mc).multiply(BigDecimal.valueOf(16)).subtract(atanInverse(239, mc).multiply(BigDecimal.valueOf(4)), MC);
    }

    private static BigDecimal atanInverse(int n, MathContext mc) {
        BigDecimal x = BigDecimal.ONE.divide(BigDecimal.valueOf(n), mc);
        BigDecimal x2 = x.multiply(x, mc);
        BigDecimal term = x;
        BigDecimal sum = x;
        for (int k = 1; k < 200; k++) {
            term = term.multiply(x2, mc).negate();
            sum = sum.add(term.divide(BigDecimal.valueOf(2 * k + 1), mc), mc);
        }
        return sum;
    }

    private static BigDecimal sin(BigDecimal x) {
        BigDecimal twoPi = PI.multiply(BigDecimal.valueOf(2));
        BigDecimal r = x.remainder(twoPi, new MathContext(120));
        BigDecimal r2 = r.multiply(r, MC);
        BigDecimal term = r;
        BigDecimal sum = r;
        for (int k = 1; k < 80; k++) {
            term = term.multiply(r2, MC).divide(BigDecimal.valueOf((2L * k) * (2L * k + 1)), MC).negate();
            sum = sum.add(term, MC);
        }
        return sum;
    }

    private static BigDecimal cos(BigDecimal x) {
        return sin(x.add(PI.divide(BigDecimal.valueOf(2), MC), new MathContext(120)));
    }

    private static BigDecimal exp(BigDecimal t) {
        BigDecimal term = BigDecimal.ONE;
        BigDecimal sum = BigDecimal.ONE;
        for (int k = 1; k < 120; k++) {
            term = term.multiply(t, MC).divide(BigDecimal.valueOf(k), MC);
            sum = sum.add(term, MC);
        }
        return sum;
    }

    /** ln(x) for x > 0: x = m 2^e, ln m = 2 atanh((m-1)/(m+1)). */
    private static BigDecimal ln(BigDecimal x) {
        int e = 0;
        BigDecimal two = BigDecimal.valueOf(2);
        while (x.compareTo(two) >= 0) {
            x = x.divide(two, MC);
            e++;
        }
        while (x.compareTo(BigDecimal.ONE) < 0) {
            x = x.multiply(two, MC);
            e--;
        }
        BigDecimal u = x.subtract(BigDecimal.ONE).divide(x.add(BigDecimal.ONE), MC);
        BigDecimal u2 = u.multiply(u, MC);
        BigDecimal term = u;
        BigDecimal sum = u;
        for (int k = 1; k < 400; k++) {
            term = term.multiply(u2, MC);
            sum = sum.add(term.divide(BigDecimal.valueOf(2 * k + 1), MC), MC);
        }
        BigDecimal ln2 = e == 0 ? BigDecimal.ZERO : ln2();
        return sum.multiply(two).add(ln2.multiply(BigDecimal.valueOf(e)), MC);
    }

    private static BigDecimal ln2Cache;

    private static BigDecimal ln2() {
        if (ln2Cache == null) {
            BigDecimal u = BigDecimal.ONE.divide(BigDecimal.valueOf(3), MC);
            BigDecimal u2 = u.multiply(u, MC);
            BigDecimal term = u;
            BigDecimal sum = u;
            for (int k = 1; k < 200; k++) {
                term = term.multiply(u2, MC);
                sum = sum.add(term.divide(BigDecimal.valueOf(2 * k + 1), MC), MC);
            }
            ln2Cache = sum.multiply(BigDecimal.valueOf(2));
        }
        return ln2Cache;
    }

    /** atan(t) for t >= 0, by halving the argument until it is small. */
    private static BigDecimal atan(BigDecimal t) {
        int halvings = 0;
        while (t.compareTo(new BigDecimal("0.1")) > 0) {
            t = t.divide(BigDecimal.ONE.add(BigDecimal.ONE.add(t.multiply(t, MC)).sqrt(MC)), MC);
            halvings++;
        }
        BigDecimal t2 = t.multiply(t, MC);
        BigDecimal term = t;
        BigDecimal sum = t;
        for (int k = 1; k < 200; k++) {
            term = term.multiply(t2, MC).negate();
            sum = sum.add(term.divide(BigDecimal.valueOf(2 * k + 1), MC), MC);
        }
        return sum.multiply(BigDecimal.valueOf(1L << halvings));
    }

    private static BigDecimal atan2(BigDecimal y, BigDecimal x) {
        BigDecimal a = atan(y.abs().divide(x.abs(), MC));
        if (x.signum() < 0) {
            a = PI.subtract(a);
        }
        return y.signum() < 0 ? a.negate() : a;
    }

    /** The 80-bit value nearest v (v > 0): {significand, sign/exponent}. */
    private static long[] toExt(BigDecimal v) {
        int e = 0;
        BigDecimal two = BigDecimal.valueOf(2);
        while (v.compareTo(two) >= 0) {
            v = v.divide(two, MC);
            e++;
        }
        while (v.compareTo(BigDecimal.ONE) < 0) {
            v = v.multiply(two, MC);
            e--;
        }
        BigInteger sig = v.multiply(new BigDecimal(BigInteger.TWO.pow(63))).setScale(0, RoundingMode.HALF_EVEN).toBigInteger();
        return new long[] {sig.longValue(), 16383 + e};
    }
}

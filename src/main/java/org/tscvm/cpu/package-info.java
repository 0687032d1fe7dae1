/**
 * The x86-64 interpreter: architectural state, decoder, MMU/TLB, exceptions and the run loop.
 *
 * <h2>Shape</h2>
 * One object per logical processor, made of three layers and five parts. The layers are
 * {@link org.tscvm.cpu.CpuState} (registers, segment caches, control registers, lazy flags),
 * {@link org.tscvm.cpu.CpuMemory} (the mode and CPL, the segment caches' writes, segment
 * checks, linear access with the TLB fast paths, data breakpoints and watchpoints, LOCKed
 * atomics, the stack) and {@link org.tscvm.cpu.CpuExec} (what the handlers share: operand and
 * ALU cores, the run state they change, the parts), under {@link org.tscvm.cpu.Cpu} (the
 * public contract and the run loop). The handlers reach the state as plain fields; everything
 * else is a part with its own test (DESIGN 7):
 * <ul>
 * <li>{@link org.tscvm.cpu.Mmu} ({@code mmu}, MmuTest): the page walk for 32-bit/PAE/4-level
 * paging, PAE's PDPTE registers, the software TLB and its invalidation, page faults and
 * physical access. It reads the paging controls from the state and takes an access's
 * privilege as a parameter.
 * <li>{@link org.tscvm.cpu.InterruptDelivery} ({@code interrupts}, InterruptDeliveryTest):
 * exception and interrupt delivery through the IVT or the IDT's gates (stack switches, IST,
 * task gates), #DF and shutdown, and IRET.
 * <li>{@link org.tscvm.cpu.FarTransfers} ({@code far}, FarTransfersTest): far JMP and CALL,
 * directly or through call gates (IA-32e mode's 16-byte ones too), a CALL to an inner level
 * switching to the TSS's stack, and RETF, to an outer level with its SS:RSP.
 * <li>{@link org.tscvm.cpu.SystemRegisters} ({@code sysregs}, SystemRegistersTest): writes of
 * CR0, CR3 and CR4 with their #GP rules, the PDPTE loads and TLB flushes they cause and IA-32e
 * mode's entry and exit through CR0.PG and EFER, DR7's effect on the breakpoint paths, and
 * RDMSR/WRMSR of the MSRs that are CPU state (EFER, the SYSCALL/SYSENTER MSRs, segment bases,
 * PAT, PKRS, CET, XSS). The registers stay fields of the state, which the page walk and the
 * handlers read directly.
 * <li>{@link org.tscvm.cpu.Segmentation} ({@code segments}, SegmentationTest): descriptor reads
 * from the GDT and LDT and their accessed bit, the loads of the segment registers with their
 * protection checks (MOV and POP to a segment register, CS for far transfers and interrupts, SS
 * for a return to an outer level, virtual-8086 mode's forms) and the inner-level SS:ESP a stack
 * switch takes from the TSS. The segment caches stay fields of the state, which the
 * linear-address fast paths read; a load writes them through {@code setSeg} and the mode update.
 * </ul>
 * The four system parts are built on the {@link org.tscvm.cpu.CpuExec} whose stack, segment
 * caches and mode update they use, and reach one another through it ({@code c.segments}).
 * The guest's CPUID,
 * asked through {@link org.tscvm.cpu.CpuBus}, decides which CR4 feature bits exist (SMEP,
 * SMAP, FSGSBASE, UMIP) and MAXPHYADDR, above which paging-entry bits are reserved.
 *
 * <h2>One form, one handler, one table (DESIGN 7)</h2>
 * {@link org.tscvm.cpu.Op} is the one id: a row per instruction form, as a row of Bochs'
 * {@code ia_opcodes.def}, carrying its decode key (for SSE and x87 the keys below; the legacy
 * map is {@link org.tscvm.cpu.Decoder}'s), its flags (ends a block, lockable, may read or may
 * write the arithmetic flags, never faults), its operand shape and its handler: a static
 * {@code (CpuExec, Insn)} method named after the row, in a file per family:
 * {@link org.tscvm.cpu.IntAlu} (ALU, shifts, multiply and divide, bit forms, flag forms),
 * {@link org.tscvm.cpu.IntMove} (moves, exchanges, the stack), {@link org.tscvm.cpu.Branch}
 * (near and far jumps, calls, returns, loops), {@link org.tscvm.cpu.StringOps},
 * {@link org.tscvm.cpu.SystemCalls} (INT n, IRET, SYSCALL/SYSENTER and their returns),
 * {@link org.tscvm.cpu.SystemOps} (I/O, descriptor tables, CR/DR, MSRs, TSC, CPUID ...), and
 * the SSE and x87 dispatchers. The commonest 32- and 64-bit integer forms have rows of their
 * own (ADD_R_R, MOV_R_M ...) whose operands the decoder resolves, picked in place of their
 * family's row. The interpreter's one dispatch ({@link org.tscvm.cpu.Dispatch}) calls the
 * row's handler as an object, made the first time the form runs from the table's handlers
 * written out (OpTableTest keeps the two equal; generating them at start-up cost the empty
 * kernel 70 ms); the
 * block compiler calls the same handlers the same way and generates code itself only for the
 * forms where that is faster. OpTableTest walks the table and checks each row.
 *
 * <p>SSE, SSE2, SSE3, SSSE3, SSE4.1 and SSE4.2 are born in the next shape (DESIGN 7): one {@link org.tscvm.cpu.Op}
 * row per form carrying its decode key (mandatory prefix, opcode in the 0F, 0F 38 or 0F 3A
 * map, ModRM digit) and flags (16-byte aligned memory operand, memory-only, register-only,
 * imm8, floating point that reads MXCSR and may raise #XM, general-register CRC32); one decode
 * table built from those rows; one dispatch point,
 * {@link org.tscvm.cpu.Sse#execute}, which makes the checks every form shares (#UD for CR0.EM or
 * a clear CR4.OSFXSR, #NM for CR0.TS) and calls the form's static handler in
 * {@link org.tscvm.cpu.SseMove}, {@link org.tscvm.cpu.SseShuffle}, {@link org.tscvm.cpu.SseInteger},
 * {@link org.tscvm.cpu.SseFloat}, {@link org.tscvm.cpu.SseConvert} or {@link org.tscvm.cpu.SseString}
 * (the SSE4.2 string compares and CRC32). IEEE arithmetic (every MXCSR
 * rounding mode, DAZ, FZ, the six flags, tininess after rounding, SSE's NaN rules) is
 * {@link org.tscvm.cpu.SoftFp}: a Java double operation plus an exact error term, no allocation.
 * Unmasked exceptions raise #XM (#UD without CR4.OSXMMEXCPT) before the destination is written.
 * Compiled blocks call the same dispatch point. RCPPS/RSQRTPS return the exact value rounded
 * to 12 bits (the SDM fixes only the error bound; hardware differs by vendor).
 *
 * <h2>Speed</h2>
 * Decoded blocks (up to 64 instructions, ending at control transfers other than a not-taken
 * Jcc, at system instructions that change mode, privilege or translation, at a WRMSR of CPU
 * state or one that makes an interrupt pending, and at page ends) live in a direct-mapped cache keyed by
 * physical address and mode, and reuse their {@link org.tscvm.cpu.Insn} objects. A 64-bit
 * block that has run {@link org.tscvm.cpu.Cpu#DEFAULT_COMPILE_THRESHOLD} times is compiled
 * by {@link org.tscvm.cpu.BlockCompiler} into a JVM method (on the real-time clock off the vCPU
 * thread, by the {@link org.tscvm.cpu.BackgroundCompiler}, the block running interpreted until
 * its code is ready; on the deterministic clock in place, so that a run repeats) (operands, RIPs and retired counts
 * as constants, CMP+Jcc fused, guest registers and the lazy flags in JVM locals until an exit
 * or a call that can fault, a block that branches to its own start a JVM loop that checks
 * events and the budget each iteration). A block compiles together with the blocks it runs into
 * in its page (a region): a guest loop through several blocks, followed along JMPs,
 * fall-throughs and Jccs, becomes one JVM loop; failing a loop, the chain of blocks it JMPs or
 * falls into becomes one method (a trace), so a bytecode interpreter's case, its fetch and its
 * indirect dispatch leave compiled code once, not three times. Compiled blocks then run back to back along the block links
 * until an event, a halt, a single step or the budget needs the run loop. Compiled and
 * interpreted runs leave the same state (CompiledBlockTest, CompiledBlocksMachineTest). {@link org.tscvm.memory.GuestMemory} keeps a mark
 * and a generation per page: a store to a marked page (from any vCPU, DMA or a loader)
 * bumps the generation, so stale blocks are re-decoded and the running block is left after
 * the store (self-modifying code). The TLB is three direct-mapped tag arrays (read, write,
 * execute) tagged with the linear page and a user bit; only RAM pages enter it. Flags are
 * lazy (last operation, operands, result); conditions after CMP compare the operands. LOCKed
 * read-modify-writes are CAS loops on aligned RAM and take a global lock otherwise.
 *
 * <h2>x87</h2>
 * The whole D8-DF map (SDM Vol. 2 tables) in the shape of DESIGN.md section 7: one
 * {@link org.tscvm.cpu.Op} row per form in group 5, one static handler per form in
 * {@link org.tscvm.cpu.X87Move} (loads, stores, FILD/FIST(P)/FISTTP, FBLD/FBSTP, FXCH, FCMOVcc,
 * FFREE(P), FINCSTP/FDECSTP, constants), {@link org.tscvm.cpu.X87Arith} (arithmetic in every
 * operand form, compares, FCHS/FABS/FSQRT/FSCALE/FXTRACT/FPREM/FPREM1/FRNDINT),
 * {@link org.tscvm.cpu.X87Trans} (F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS,
 * within an ulp) and {@link org.tscvm.cpu.X87Control} (FNINIT, FNCLEX, FNSTCW, FLDCW, FNSTSW,
 * FWAIT, FNOP, FNSTENV/FLDENV/FNSAVE/FRSTOR in 16/32-bit real/protected formats, the x87 part of
 * FXSAVE/FXRSTOR), dispatched from {@link org.tscvm.cpu.X87}, which compiled blocks call too.
 * Arithmetic is {@link org.tscvm.cpu.X87Float}'s 80-bit soft-float (no Java floating point):
 * precision and rounding control, denormals, unsupported encodings, NaN rules, stack faults,
 * masked responses and unmasked exceptions (ES/B, #MF at the next waiting instruction when
 * CR0.NE = 1; with NE = 0 the exception is ignored as with IGNNE#), CR0.EM/TS/MP #NM, and
 * FIP/FCS/FOP/FDP/FDS. The undocumented aliases (FCOM2, FCOMP3, FXCH4, FCOMP5, FSTP1, FFREEP,
 * FXCH7, FSTP8/9) and FNENI/FNDISI/FNSETPM (no-ops) run; the rest of the map is #UD. Where the
 * SDM is silent tscvm does what an AMD EPYC host does (CpuDifferentialTest, X87Forms).
 *
 * <h2>MMX</h2>
 * Every MMX form (MMX, SSE's and SSE2's additions on MM registers, SSSE3's mm forms) and the SSE
 * forms with an MMX operand (CVTPI2PS, CVTPI2PD, CVT(T)PS2PI, CVT(T)PD2PI, MOVQ2DQ, MOVDQ2Q) are
 * {@link org.tscvm.cpu.Op} rows of group 5 flagged MM, dispatched from {@link org.tscvm.cpu.Sse#execute}
 * to {@link org.tscvm.cpu.Mmx}. MMn is the significand of the x87 physical register Rn (REX does
 * not extend it); every MMX instruction sets TOP to 0 and, but EMMS, all tags valid; a write
 * sets Rn's sign and exponent to all ones; EMMS empties the tags. CR0.EM is #UD, CR0.TS #NM,
 * a pending unmasked x87 exception #MF (with CR0.NE); only the forms with XMM state need
 * CR4.OSFXSR. The lane operations are the SSE forms' (each MMX row names its SSE twin).
 *
 * <h2>Restricted transactional memory</h2>
 * XBEGIN, XEND, XABORT and XTEST ({@link org.tscvm.cpu.Rtm}, with CPUID RTM): a transaction
 * runs interpreted, one instruction at a time; its first store to each page keeps the page's
 * old bytes ({@link org.tscvm.cpu.Transaction}, at most 64 pages), so an abort restores memory,
 * the general, x87 and SSE registers and RFLAGS as at the outermost XBEGIN. It aborts at
 * XABORT, at any fault (not delivered), before port I/O, a device access, a system instruction,
 * a far transfer or a segment load, at an interrupt or NMI (taken at the fallback address), and
 * when the host takes the CPU back; nesting goes 7 deep. With more than one vCPU every XBEGIN
 * aborts, since vCPUs share memory without conflict detection.
 *
 * <h2>Control-flow enforcement</h2>
 * CET ({@link org.tscvm.cpu.Cet}, with CPUID CET_SS and/or CET_IBT): CR4.CET (only with CR0.WP,
 * which cannot be cleared under it), IA32_U_CET/S_CET, IA32_PL0-3_SSP and the interrupt SSP
 * table with their #GP rules, and SSP. Shadow stacks follow near CALL/RET (#CP NEAR-RET), far
 * CALL/RET and call gates (CS, LIP, SSP frames; #CP FAR-RET), events and IRET (IA32_PL3_SSP
 * saved and loaded across CPL 3, supervisor tokens taken and released, the IST's SSP table),
 * SYSCALL/SYSRET and SYSENTER/SYSEXIT; shadow-stack accesses need shadow-stack pages (R/W=0,
 * D=1 leaves; #PF with the SS bit) and bypass the TLB. RDSSP, INCSSP, RSTORSSP, SAVEPREVSSP,
 * WRSS, WRUSS, SETSSBSY and CLRSSBSY run; RDSSP and ENDBR stay NOPs where CET is off. The IBT
 * tracker of each privilege lives in its CET MSR: indirect JMP/CALL (unless notrack with
 * NO_TRACK_EN, or SUPPRESS), far JMP/CALL, events and SYSCALL/SYSENTER arm it, and the next
 * block must start with ENDBR64 (ENDBR32 outside 64-bit mode) or #CP(ENDBRANCH). While CET is
 * active nothing runs compiled. Not modelled: the legacy code-page bitmap (LEG_IW_EN,
 * SUPPRESS_DIS), SSP in task switches, XSAVES components CET_U/CET_S (IA32_XSS stays 0),
 * protection keys on shadow-stack accesses.
 *
 * <h2>Deliberately absent (raise #UD, or #GP where the SDM would fault differently)</h2>
 * AES-NI, PCLMULQDQ, SHA and the other 0F 38 / 0F 3A extensions beyond
 * SSE4.2, AVX/VEX/EVEX and XSAVE components beyond x87 and SSE (XSAVE, XSAVEOPT, XSAVEC,
 * XSAVES, XRSTOR in both forms, XRSTORS, XGETBV and XSETBV run with XCR0 = x87|SSE at most and
 * IA32_XSS = 0, behind CR4.OSXSAVE and CPUID.(0xD,1)), BOUND, RDRAND/RDSEED, MONITOR/MWAIT, HLE
 * (XACQUIRE/XRELEASE stay plain prefixes).
 * Hardware task switches ({@link org.tscvm.cpu.TaskSwitch}) take 32-bit and 16-bit TSSs, with
 * the T flag's #DB (DR6.BT). Virtual-8086 mode is entered by a task switch or by IRETD at CPL 0
 * and left by an interrupt to ring 0; there INT n, IRET, PUSHF, POPF, CLI and STI run with IOPL 3
 * and raise #GP(0) below it. VME is not implemented: CPUID does not report it and CR4.VME/PVI
 * cannot be set. Not modelled: I/O breakpoints (DR7 R/W 10), #AC, SMM, PCID. NMIs arrive through
 * {@link org.tscvm.cpu.Cpu#raiseNmi()} and are blocked until IRET; CR8 reads and writes the
 * local APIC's TPR through {@link org.tscvm.cpu.CpuBus}; VMCALL is a KVM hypercall.
 *
 * <h2>Guest debug</h2>
 * The guest's DR0-DR7 (SDM Vol. 3B chapter 17) are apart from the gdb stub's
 * {@link org.tscvm.cpu.DebugTraps}. While a DR7 L/G bit, RFLAGS.TF or RF is set, or a #DB is
 * held over MOV SS, the run loop runs one instruction at a time (checked once per block, so the
 * fast path pays nothing): instruction breakpoints fault before the instruction unless RF is
 * set; data breakpoints (R/W 01 writes, 11 reads and writes; lengths 1, 2, 4, 8) keep their
 * pages out of the TLB, are checked on the slow access paths and trap after the instruction;
 * single-step traps after each instruction that began with TF (POPF clearing TF included), not
 * after INT n/INT3/INTO/INT1 or a SYSCALL that cleared TF, and after a SYSRET that set it;
 * MOV SS/POP SS hold the single step back (dropped) and data breakpoints (delivered after the
 * next instruction, merged with an INT1 there), and on Intel (not AMD) inhibit an instruction
 * breakpoint on the instruction after them; DR7.GD makes MOV DR fault with DR6.BD and
 * clears GD. Each #DB replaces DR6.B0-B3 and only sets BD/BS. RF is cleared at the start of an
 * instruction (IRET loads it, POPF cannot set it, INT n pushes it clear), pushed set by faults,
 * and set by a REP string that stops between chunks, so an interrupt taken there pushes it and
 * the restart does not break on the string instruction again.
 *
 * <h2>Vendor</h2>
 * Where Intel and AMD differ, the CPU follows CPUID leaf 0's vendor (asked only off the hot
 * paths): AMD runs SYSCALL/SYSRET in compatibility and legacy mode (Intel: #UD outside 64-bit
 * mode) and refuses SYSENTER/SYSEXIT in long mode (#UD).
 */
package org.tscvm.cpu;

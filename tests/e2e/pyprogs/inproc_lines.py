"""@filrec.profile(lines=True): build's line table, exact. Line KEEP runs 3 times and
keeps 3 x 10,000,001 bytes; line TMP takes 50,000,001 more (the call's peak, 80,000,004);
line DROP gives them back. Prints the table (stdout), then the call's result."""
import filrec


@filrec.profile(lines=True)
def build(n):
    keep = []
    for i in range(3):
        keep.append(bytearray(n))  # KEEP
    tmp = bytearray(5 * n)  # TMP
    del tmp  # DROP
    return len(keep)


print("result", build(10_000_000))

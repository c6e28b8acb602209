! Known answer: what `filrec summary --json` reports for this program, built with
! `gfortran -g -O1` and run with `filrec run --native`:
!
! expect: peak_bytes = 24_000_000
! expect: top_function = build
! expect: top_line = 23
! expect: top_bytes = 16_000_000
! expect: second_function = build
! expect: second_line = 24
! expect: second_bytes = 8_000_000
!
! Why: a field solver's set-up in Fortran. build allocates the field, 2,000,000
! real(8) values (line 23: 16,000,000 bytes), and a half-size work array (line 24:
! 8,000,000 bytes); both are live at the peak, then freed.
module field_mod
  implicit none
contains
  subroutine build(n, total)
    integer, intent(in) :: n
    real(8), intent(out) :: total
    real(8), allocatable :: a(:), w(:)
    integer :: i
    allocate(a(n))
    allocate(w(n / 2))
    do i = 1, n
      a(i) = i
    end do
    w = 2
    total = sum(a) + sum(w)
    deallocate(a, w)
  end subroutine build
end module field_mod

program field
  use field_mod
  implicit none
  real(8) :: total
  call build(2000000, total)
  print *, 'field:', total
end program field

# SPDX-License-Identifier: GPL-2.0-or-later
# Up-time against peers from bench-scale's WGM_BENCH_DAT file:
#   gnuplot -e "dat='scale.dat'; out='bench/scale.png'" bench/scale.gp
if (!exists("dat")) dat = 'scale.dat'
if (!exists("out")) out = 'scale.png'
set terminal pngcairo size 800,520 noenhanced
set output out
set title "Mesh up until every peer is configured (NetworkManager sandbox, wireguard-go, 2 cores)"
set xlabel "peers"
set ylabel "seconds"
set logscale xy
set grid
set key top left
set datafile missing "nan"
plot dat using 1:2 with linespoints title "bare wg setconf", \
     dat using 1:3 with linespoints title "wg-quick up (userspace)", \
     dat using 1:4 with linespoints title "nmcli connection up, peers in a network map", \
     dat using 1:5 with linespoints title "nmcli connection up, peers inline in vpn.data"

# convpt bench: throughput, memory and speedup against input length, one line per architecture.
# Regenerate the image: gnuplot <this file>
set terminal pngcairo noenhanced size 1400,1000 font ',11'
set output 'bench.png'
$transformer << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
128 1725.96 25774.4 217.004 1
256 2305.63 22738.4 268.988 1
512 2674.41 19864.8 412.965 1
1024 2381.29 15331.4 892.965 1
2048 1656.13 10108.7 2433.47 1
4096 918.935 5510.9 8138.03 1
EOD
$lightconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
128 1845.69 25115.7 197.254 1.06937
256 2786.73 28743.1 233.199 1.20866
512 3724.99 30920.8 303.066 1.39283
1024 4547.7 31931.2 451.09 1.90977
2048 4902.94 31520.3 753.566 2.96047
4096 5331.05 31214.1 1370.21 5.80134
EOD
$dynamicconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
128 1144.36 9156.61 226.945 0.663027
256 1740.53 9112.02 269.137 0.754904
512 2421.37 10114.2 353.59 0.905385
1024 2800.72 10022.9 541.484 1.17614
2048 2957.5 9946.23 875.477 1.78579
4096 3105.3 9943.81 1630.5 3.37924
EOD
$dilatedconv << EOD
# length train_tokens_per_s encoder_tokens_per_s peak_memory_mib train_speedup
128 1903.21 25795 199 1.10269
256 2853.94 29315.1 231.035 1.23781
512 4068.6 30489.3 302.879 1.5213
1024 4803.18 30936.7 449.031 2.01705
2048 5253.95 31050.9 757.535 3.17242
4096 5426.02 30710.8 1369.96 5.90468
EOD
set multiplot layout 2,2 title 'convpt bench: d_model 256, d_ff 1024, 4+4 layers, vocab 8192; batch 2, target 128, decode 32 tokens; device cpu, threads 2'
set logscale x 2
set grid
set key top right
set xlabel 'input length (tokens)'
set logscale y
set title 'training step (forward, backward, optimizer)'
set ylabel 'input tokens/s'
plot $transformer using 1:2 with linespoints lw 2 pt 7 lc rgb '#000000' title 'transformer', \
     $lightconv using 1:2 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:2 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:2 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv'
set logscale y
set title 'encoder forward'
set ylabel 'input tokens/s'
plot $transformer using 1:3 with linespoints lw 2 pt 7 lc rgb '#000000' title 'transformer', \
     $lightconv using 1:3 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:3 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:3 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv'
set logscale y
set title 'peak memory (whole cell: training dominates)'
set ylabel 'MiB'
plot $transformer using 1:4 with linespoints lw 2 pt 7 lc rgb '#000000' title 'transformer', \
     $lightconv using 1:4 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:4 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:4 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv'
unset logscale y
set title 'training speed relative to the transformer'
set ylabel 'transformer time / own time'
plot $lightconv using 1:5 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'lightconv', \
     $dynamicconv using 1:5 with linespoints lw 2 pt 7 lc rgb '#d62728' title 'dynamicconv', \
     $dilatedconv using 1:5 with linespoints lw 2 pt 7 lc rgb '#2ca02c' title 'dilatedconv', \
     1 with lines dt 2 lc rgb '#808080' notitle
unset multiplot
